"""A fake WeChat Official Account API on 127.0.0.1: token, custom-service send, user info, media.

Records every request; answers errcode JSON like WeChat (HTTP 200 with errcode), can expire the current
access token, refuse a follower whose 48-hour window is closed (45015), or fail the next N calls.
"""

import itertools
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .fake_line import PNG_1x1, Recorded


@dataclass
class FakeWechat:
    host: str = "127.0.0.1"
    port: int = 0
    app_id: str = "wx0123456789abcdef"
    app_secret: str = "test-wechat-app-secret"
    requests: list = field(default_factory=list)
    users: dict = field(default_factory=dict)
    media: dict = field(default_factory=dict)
    window_closed: set = field(default_factory=set)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._counter = itertools.count(1)
        self.current_token = ""
        self._server = None

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, content_type, payload = fake.answer(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self):
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self.users.clear()
            self.media.clear()
            self.window_closed.clear()
            self.current_token = ""

    def fail_next(self, status: int, count: int = 1):
        with self._lock:
            self._failures.extend([status] * count)

    def expire_token(self):
        self.current_token = "expired-by-test"

    def calls(self, path_fragment: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path_fragment in r.path]

    def answer(self, method, raw_path, headers, body):
        path, _, query = raw_path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        record = Recorded(method, raw_path, {k.lower(): v for k, v in headers.items()}, body)
        with self._lock:
            self.requests.append(record)
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            return failure, "application/json", b'{"errcode": -1, "errmsg": "system error"}'
        if path == "/cgi-bin/token":
            if params.get("appid") != self.app_id or params.get("secret") != self.app_secret:
                return _err(40125, "invalid appsecret")
            self.current_token = f"token-{next(self._counter)}"
            return _ok({"access_token": self.current_token, "expires_in": 7200})
        if params.get("access_token") != self.current_token or not self.current_token:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if path == "/cgi-bin/message/custom/send":
            payload = json.loads(body or b"{}")
            if payload.get("touser") in self.window_closed:
                return _err(45015, "response out of time limit or subscription is canceled")
            return _ok({"errcode": 0, "errmsg": "ok"})
        if path == "/cgi-bin/message/mass/send":  # broadcasts (h-inbox): openid list, 2 to 10,000
            payload = json.loads(body or b"{}")
            if not 2 <= len(payload.get("touser") or []) <= 10000:
                return _err(40130, "invalid openid list size, at least two openid")
            return _ok({"errcode": 0, "errmsg": "send job submission success", "msg_id": next(self._counter)})
        if path == "/cgi-bin/user/info":
            openid = params.get("openid", "")
            return _ok(
                self.users.get(openid)
                or {
                    "subscribe": 1,
                    "openid": openid,
                    "nickname": f"WeChat user {openid[-4:]}",
                    "headimgurl": f"http://thirdwx.qlogo.cn/mmopen/{openid}/132",
                    "language": "zh_CN",
                    "subscribe_time": 1700000000,
                }
            )
        if path == "/cgi-bin/media/get":
            media_id = params.get("media_id", "")
            if media_id == "expired":
                return _err(40007, "invalid media_id")
            content, content_type = self.media.get(media_id, (PNG_1x1, "image/png"))
            return 200, content_type, content
        if path == "/cgi-bin/media/upload":
            return _ok(
                {"type": params.get("type"), "media_id": f"media-{next(self._counter)}", "created_at": 1}
            )
        if path == "/cgi-bin/get_api_domain_ip":
            return _ok({"ip_list": ["101.226.103.0/25"]})
        return 404, "application/json", b'{"errcode": 404}'


def _ok(value):
    return 200, "application/json", json.dumps(value).encode()


def _err(code, message):
    return 200, "application/json", json.dumps({"errcode": code, "errmsg": message}).encode()
