import json
from pathlib import Path

import pytest

from social.models import Channel

from .fake_line import FakeLine
from .fake_wechat import FakeWechat

FIXTURES = Path(__file__).parent / "fixtures"
LINE_SECRET = "test-line-channel-secret"
LINE_TOKEN = "test-access-token"


def line_fixture(name: str) -> bytes:
    """A stored LINE webhook body (tests/social/fixtures/line/<name>.json), bytes as LINE sends them."""
    return (FIXTURES / "line" / f"{name}.json").read_bytes()


def line_events(name: str) -> list[dict]:
    return json.loads(line_fixture(name))["events"]


def wechat_fixture(name: str) -> bytes:
    return (FIXTURES / "wechat" / f"{name}.xml").read_bytes()


@pytest.fixture(scope="session")
def _fake_line_server():
    server = FakeLine(access_token=LINE_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def fake_line(_fake_line_server, settings):
    """The fake LINE API, empty and healthy, with LINE_API_BASE and LINE_DATA_API_BASE pointing at it."""
    server = _fake_line_server
    server.clear()
    server._failures.clear()
    server.profiles.clear()
    server.contents.clear()
    settings.LINE_API_BASE = server.url
    settings.LINE_DATA_API_BASE = server.url
    settings.SOCIAL_PROVIDER_TIMEOUT = 5.0
    yield server
    server._failures.clear()


@pytest.fixture
def line_channel(db, team):
    channel = Channel(kind=Channel.Kind.LINE, name="Demo shop LINE", team=team)
    channel.set_credentials({"channel_secret": LINE_SECRET, "access_token": LINE_TOKEN})
    channel.save()
    return channel


WECHAT_TOKEN = "test-wechat-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(scope="session")
def _fake_wechat_server():
    server = FakeWechat().start()
    yield server
    server.stop()


@pytest.fixture
def fake_wechat(_fake_wechat_server, settings):
    """The fake WeChat API, reset, with WECHAT_API_BASE pointing at it (and a fresh token cache)."""
    from django.core.cache import cache

    server = _fake_wechat_server
    server.reset()
    cache.clear()
    settings.WECHAT_API_BASE = server.url
    settings.SOCIAL_PROVIDER_TIMEOUT = 5.0
    yield server


def _wechat_channel(team, mode):
    channel = Channel(kind=Channel.Kind.WECHAT, name=f"Demo shop WeChat ({mode})", team=team)
    channel.set_credentials(
        {
            "app_id": "wx0123456789abcdef",
            "app_secret": "test-wechat-app-secret",
            "token": WECHAT_TOKEN,
            "aes_key": WECHAT_AES_KEY,
            "mode": mode,
        }
    )
    channel.save()
    return channel


@pytest.fixture
def wechat_channel(db, team):
    return _wechat_channel(team, "plain")


@pytest.fixture
def wechat_safe_channel(db, team):
    return _wechat_channel(team, "safe")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fresh_channel_cache():
    from social import webhooks

    webhooks.forget_channel_cache()
    webhooks._broker_down_until = 0.0
    yield
    webhooks.forget_channel_cache()
    webhooks._broker_down_until = 0.0


@pytest.fixture
def post_line(client, django_capture_on_commit_callbacks):
    """POST a LINE webhook body (a fixture name or bytes) signed like LINE, running on-commit work too."""
    from django.urls import reverse

    from social.providers import line

    def post(channel, body, *, secret=LINE_SECRET, signature=None, run_on_commit=True):
        raw = line_fixture(body) if isinstance(body, str) else body
        headers = {
            "HTTP_X_LINE_SIGNATURE": signature if signature is not None else line.signature(secret, raw)
        }
        url = reverse("webhook-line", kwargs={"key": channel.webhook_key})
        with django_capture_on_commit_callbacks(execute=run_on_commit):
            return client.post(url, raw, content_type="application/json", **headers)

    return post


@pytest.fixture
def post_wechat(client, django_capture_on_commit_callbacks):
    """POST a WeChat callback (a fixture name or bytes), signed (and encrypted in safe mode) like WeChat."""
    from django.urls import reverse

    from social.providers import wechat

    def post(
        channel, body, *, safe=False, token=WECHAT_TOKEN, timestamp="1700000000", nonce="n0nce", tamper=""
    ):
        raw = wechat_fixture(body) if isinstance(body, str) else body
        params = {"timestamp": timestamp, "nonce": nonce, "openid": "o1"}
        params["signature"] = wechat.sha1_signature(token, timestamp, nonce)
        if safe:
            ciphertext = wechat.encrypt(WECHAT_AES_KEY, "wx0123456789abcdef", raw.decode())
            params["encrypt_type"] = "aes"
            params["msg_signature"] = wechat.sha1_signature(token, timestamp, nonce, ciphertext)
            envelope = "<xml><ToUserName>gh_3d3b0d1c2a11</ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>"
            raw = envelope.format(ciphertext + tamper).encode()
        elif tamper:
            params["signature"] = tamper
        url = reverse("webhook-wechat", kwargs={"key": channel.webhook_key})
        query = "&".join(f"{k}={v}" for k, v in params.items())
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"{url}?{query}", raw, content_type="text/xml")

    return post
