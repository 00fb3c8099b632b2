"""A small HTTP helper for the provider clients (stdlib only): JSON in, status and bytes out."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings


class ProviderError(Exception):
    """The provider refused or failed a call. `retryable` is True for 429, 5xx and network errors."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"{}")


def call(method: str, url: str, *, headers=None, json_body=None, data: bytes | None = None, timeout=None):
    """Send one request; raise ProviderError on a non-2xx answer or a network failure."""
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body, ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    if not url.startswith(("https://", "http://")):
        raise ProviderError(f"refusing a non-HTTP provider URL: {url[:40]}")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (checked above)
    timeout = timeout or getattr(settings, "SOCIAL_PROVIDER_TIMEOUT", 10.0)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return Response(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()[:2000]
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        try:
            retry_after = float(retry_after) if retry_after else None
        except ValueError:
            retry_after = None
        raise ProviderError(_error_text(exc.code, body), status=exc.code, retry_after=retry_after) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ProviderError(f"network error: {getattr(exc, 'reason', exc)}") from None


def _error_text(status: int, body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return f"HTTP {status}"
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("errmsg") or ""
        return f"HTTP {status}: {message}"[:500]
    return f"HTTP {status}"
