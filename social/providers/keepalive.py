"""One persistent HTTP(S) connection for many JSON POSTs to one provider (broadcast batches).

urllib opens a new connection per request; a 100,000-recipient broadcast is 200 LINE multicasts, and
keeping one connection saves a TCP (and TLS) handshake each. Errors are the clients' ProviderError.
"""

import http.client
import json
import ssl
from urllib.parse import urlsplit

from django.conf import settings

from .http import ProviderError, _error_text


class KeepAliveJson:
    def __init__(self, base_url: str, *, headers: dict | None = None, timeout: float | None = None):
        parts = urlsplit(base_url.rstrip("/"))
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "", parts.port
        self.prefix = parts.path
        self.headers = dict(headers or {})
        self.timeout = timeout or getattr(settings, "SOCIAL_PROVIDER_TIMEOUT", 10.0)
        self.connection = None

    def _connect(self):
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def post(self, path: str, payload: dict, *, headers: dict | None = None) -> dict:
        body = json.dumps(payload, ensure_ascii=False).encode()
        all_headers = {**self.headers, "Content-Type": "application/json", **(headers or {})}
        for attempt in (1, 2):  # a kept connection the server closed meanwhile is reopened once
            if self.connection is None:
                self.connection = self._connect()
            try:
                self.connection.request("POST", self.prefix + path, body=body, headers=all_headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2:
                    raise ProviderError(f"network error: {exc}") from None
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ProviderError(f"network error: {exc}") from None
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            if 200 <= response.status < 300:
                return json.loads(data or b"{}")
            retry_after = response.getheader("Retry-After")
            try:
                retry_after = float(retry_after) if retry_after else None
            except ValueError:
                retry_after = None
            raise ProviderError(
                _error_text(response.status, data), status=response.status, retry_after=retry_after
            )
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
