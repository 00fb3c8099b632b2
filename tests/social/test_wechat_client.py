import pytest

from social.providers import wechat
from social.providers.wechat import WebhookError, WechatClient, WechatError

# WeChat's own sample (WXBizMsgCrypt demo): token, EncodingAESKey, app id, and a message it encrypted.
SAMPLE_TOKEN = "spamtest"
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APP_ID = "wx2c2769f8efd9abc2"
SAMPLE_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_CIPHERTEXT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2L"
    "dJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6u"
    "x5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJ"
    "pXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCz"
    "pu9GhglF2PE="
)


def test_wechats_own_sample_message_verifies_and_decrypts():
    assert wechat.signature_valid(
        SAMPLE_TOKEN, "1409735669", "1320562132", SAMPLE_SIGNATURE, SAMPLE_CIPHERTEXT
    )
    message = wechat.parse_xml(wechat.decrypt(SAMPLE_KEY, SAMPLE_APP_ID, SAMPLE_CIPHERTEXT))
    assert message["Content"] == "abcdteT" and message["MsgId"] == "6054768590064713728"


def test_a_tampered_signature_ciphertext_or_app_id_is_refused():
    assert not wechat.signature_valid(SAMPLE_TOKEN, "1409735669", "1320562132", "0" * 40, SAMPLE_CIPHERTEXT)
    assert not wechat.signature_valid(
        SAMPLE_TOKEN, "1409735670", "1320562132", SAMPLE_SIGNATURE, SAMPLE_CIPHERTEXT
    )
    with pytest.raises(WebhookError):
        wechat.decrypt(SAMPLE_KEY, "wx-some-other-app", SAMPLE_CIPHERTEXT)
    with pytest.raises(WebhookError):
        wechat.decrypt(SAMPLE_KEY, SAMPLE_APP_ID, "A" + SAMPLE_CIPHERTEXT[1:-4] + "AAA=")


def test_an_encrypted_reply_decrypts_back_and_carries_a_valid_msg_signature():
    envelope = wechat.parse_xml(
        wechat.encrypted_reply(
            token=SAMPLE_TOKEN,
            aes_key=SAMPLE_KEY,
            app_id=SAMPLE_APP_ID,
            xml_text="<xml><Content>hi</Content></xml>",
            nonce="n1",
            timestamp="1700000000",
        )
    )
    assert wechat.signature_valid(
        SAMPLE_TOKEN, "1700000000", "n1", envelope["MsgSignature"], envelope["Encrypt"]
    )
    assert (
        wechat.decrypt(SAMPLE_KEY, SAMPLE_APP_ID, envelope["Encrypt"]) == "<xml><Content>hi</Content></xml>"
    )


def test_xml_with_entities_is_refused_before_parsing():
    with pytest.raises(WebhookError):
        wechat.parse_xml(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>')
    with pytest.raises(WebhookError):
        wechat.parse_xml(b"not xml")


def test_event_keys_use_msg_id_or_sender_and_time():
    assert wechat.event_key({"MsgId": "42", "FromUserName": "o1"}) == "msg:42"
    assert (
        wechat.event_key({"FromUserName": "o1", "CreateTime": "17", "Event": "subscribe"})
        == "evt:o1:17:subscribe"
    )


@pytest.fixture
def client(fake_wechat, wechat_channel):
    return WechatClient.for_channel(wechat_channel)


def test_the_access_token_is_cached_and_refreshed_once_when_wechat_says_it_expired(client, fake_wechat):
    client.send_text("o1", "hello")
    client.get_user_info("o1")
    assert len(fake_wechat.calls("/cgi-bin/token")) == 1
    fake_wechat.expire_token()
    client.send_text("o1", "again")
    assert len(fake_wechat.calls("/cgi-bin/token")) == 2
    sends = fake_wechat.calls("/custom/send")
    # the first "again" was refused with 40001, then sent again under the fresh token
    assert [s.json()["text"]["content"] for s in sends] == ["hello", "again", "again"]


def test_a_closed_48_hour_window_is_reported_as_such(client, fake_wechat):
    fake_wechat.window_closed.add("o-old")
    with pytest.raises(WechatError) as exc:
        client.send_text("o-old", "hello")
    assert exc.value.window_closed and not exc.value.retryable


def test_media_is_downloaded_and_user_info_read(client):
    content, content_type = client.get_media("media_image_1")
    assert content.startswith(b"\x89PNG") and content_type == "image/png"
    assert client.get_user_info("oABCD")["nickname"] == "WeChat user ABCD"
    with pytest.raises(WechatError):
        client.get_media("expired")
