import pytest

from social.providers.http import ProviderError
from social.providers.line import LineClient, text_message


@pytest.fixture
def client(fake_line, line_channel):
    return LineClient.for_channel(line_channel)


def test_push_sends_the_retry_key_and_line_accepts_a_retried_push_only_once(client, fake_line):
    client.push("Uabc", [text_message("hi")], retry_key="9f0c1a9e-4b7e-4a59-9a51-3c1f4f0e6a11")
    with pytest.raises(ProviderError) as exc:
        client.push("Uabc", [text_message("hi")], retry_key="9f0c1a9e-4b7e-4a59-9a51-3c1f4f0e6a11")
    assert exc.value.status == 409
    call = fake_line.calls("/push")[0]
    assert call.headers["x-line-retry-key"] == "9f0c1a9e-4b7e-4a59-9a51-3c1f4f0e6a11"
    assert call.headers["authorization"] == "Bearer test-access-token"
    assert call.json() == {"to": "Uabc", "messages": [{"type": "text", "text": "hi"}]}


def test_reply_multicast_profile_content_and_bot_info_reach_line(client, fake_line):
    client.reply("token-1", [text_message("thanks")])
    client.multicast(["U1", "U2"], [text_message("sale")])
    assert client.get_profile("U1234")["displayName"] == "LINE user 1234"
    body, content_type = client.get_content("325708")
    assert content_type == "image/png" and body.startswith(b"\x89PNG")
    assert client.bot_info()["basicId"] == "@123abcde"
    assert [c.path for c in fake_line.requests] == [
        "/v2/bot/message/reply",
        "/v2/bot/message/multicast",
        "/v2/bot/profile/U1234",
        "/v2/bot/message/325708/content",
        "/v2/bot/info",
    ]


def test_multicast_refuses_more_than_500_recipients(client):
    with pytest.raises(ValueError):
        client.multicast([f"U{i}" for i in range(501)], [text_message("x")])


def test_rate_limit_and_server_errors_are_retryable_and_carry_retry_after(client, fake_line):
    fake_line.fail_next(429, retry_after=3)
    with pytest.raises(ProviderError) as exc:
        client.push("U1", [text_message("x")])
    assert exc.value.status == 429 and exc.value.retryable and exc.value.retry_after == 3
    fake_line.fail_next(500)
    with pytest.raises(ProviderError) as exc:
        client.get_profile("U1")
    assert exc.value.retryable
    fake_line.fail_next(400)
    with pytest.raises(ProviderError) as exc:
        client.get_profile("U1")
    assert not exc.value.retryable


def test_a_wrong_access_token_is_a_clear_non_retryable_error(fake_line):
    with pytest.raises(ProviderError) as exc:
        LineClient(access_token="wrong").bot_info()
    assert exc.value.status == 401 and not exc.value.retryable
