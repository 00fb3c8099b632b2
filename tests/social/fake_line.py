"""A fake LINE Messaging API (api.line.me and api-data.line.me) on 127.0.0.1 for tests and benchmarks.

It records every request, answers like LINE does for reply, push, multicast, profile, content and bot
info, refuses a push whose X-Line-Retry-Key was already accepted (409, as LINE does), and can be told to
answer an error status for the next N calls.
"""

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG_1x1 = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"{}")


@dataclass
class FakeLine:
    host: str = "127.0.0.1"
    port: int = 0
    access_token: str = "test-access-token"
    requests: list = field(default_factory=list)
    profiles: dict = field(default_factory=dict)
    contents: dict = field(default_factory=dict)
    bot: dict = field(
        default_factory=lambda: {
            "userId": "Ubot0000000000000000000000000000",
            "basicId": "@123abcde",
            "displayName": "Demo shop",
            "chatMode": "chat",
            "markAsReadMode": "manual",
        }
    )

    def __post_init__(self):
        self._lock = threading.Lock()
        self._failures: list[tuple[int, dict]] = []
        self._retry_keys: set[str] = set()
        self._server = None
        self._thread = None

    # Control
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake.answer(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def fail_next(self, status: int, count: int = 1, *, retry_after: int | None = None, path: str = ""):
        """Answer `status` to the next `count` calls (whose path contains `path`, if given)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._failures.extend([(status, headers, path)] * count)

    def calls(self, path_fragment: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path_fragment in r.path]

    def clear(self):
        with self._lock:
            self.requests.clear()
            self._retry_keys.clear()

    # Behaviour
    def answer(self, method, path, headers, body):
        record = Recorded(method, path, {k.lower(): v for k, v in headers.items()}, body)
        with self._lock:
            self.requests.append(record)
            failure = next((f for f in self._failures if f[2] in path), None)
            if failure:
                self._failures.remove(failure)
        if failure:
            status, extra, _path = failure
            return status, {"Content-Type": "application/json", **extra}, _json({"message": "fake failure"})
        if record.headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {"Content-Type": "application/json"}, _json({"message": "Authentication failed."})
        if method == "POST" and path in ("/v2/bot/message/push", "/v2/bot/message/multicast"):
            retry_key = record.headers.get("x-line-retry-key")
            if retry_key:
                with self._lock:
                    if retry_key in self._retry_keys:
                        return (
                            409,
                            {"Content-Type": "application/json", "x-line-accepted-request-id": retry_key},
                            _json({"message": "The retry key is already accepted"}),
                        )
                    self._retry_keys.add(retry_key)
            if path.endswith("push"):
                count = len(record.json().get("messages", []))
                sent = [{"id": f"5{len(self.requests):017d}{i}", "quoteToken": "q"} for i in range(count)]
                return 200, {"Content-Type": "application/json"}, _json({"sentMessages": sent})
            return 200, {"Content-Type": "application/json"}, b"{}"
        if method == "POST" and path == "/v2/bot/message/reply":
            token = record.json().get("replyToken", "")
            if token.startswith("expired"):
                return 400, {"Content-Type": "application/json"}, _json({"message": "Invalid reply token"})
            return (
                200,
                {"Content-Type": "application/json"},
                _json({"sentMessages": [{"id": "1", "quoteToken": "q"}]}),
            )
        match = re.fullmatch(r"/v2/bot/user/([^/]+)/linkToken", path)
        if method == "POST" and match:  # account link (h-inbox)
            return (
                200,
                {"Content-Type": "application/json"},
                _json({"linkToken": f"link-{match.group(1)[-6:]}"}),
            )
        if method == "GET" and path == "/v2/bot/info":
            return 200, {"Content-Type": "application/json"}, _json(self.bot)
        match = re.fullmatch(r"/v2/bot/profile/([^/]+)", path)
        if method == "GET" and match:
            user_id = match.group(1)
            profile = self.profiles.get(user_id) or {
                "userId": user_id,
                "displayName": f"LINE user {user_id[-4:]}",
                "pictureUrl": f"https://profile.line-scdn.net/{user_id}",
                "language": "zh-TW",
            }
            return 200, {"Content-Type": "application/json"}, _json(profile)
        match = re.fullmatch(r"/v2/bot/group/([^/]+)/member/([^/]+)", path)
        if method == "GET" and match:
            user_id = match.group(2)
            return (
                200,
                {"Content-Type": "application/json"},
                _json({"userId": user_id, "displayName": f"LINE user {user_id[-4:]}"}),
            )
        match = re.fullmatch(r"/v2/bot/group/([^/]+)/summary", path)
        if method == "GET" and match:
            return (
                200,
                {"Content-Type": "application/json"},
                _json({"groupId": match.group(1), "groupName": "Demo group", "pictureUrl": ""}),
            )
        match = re.fullmatch(r"/v2/bot/message/([^/]+)/content", path)
        if method == "GET" and match:
            stored = self.contents.get(match.group(1), (PNG_1x1, "image/png"))
            if stored is None:  # LINE no longer has it
                return 404, {"Content-Type": "application/json"}, _json({"message": "Not found"})
            content, content_type = stored
            return 200, {"Content-Type": content_type}, content
        return 404, {"Content-Type": "application/json"}, _json({"message": "Not found"})


def _json(value) -> bytes:
    return json.dumps(value).encode()
