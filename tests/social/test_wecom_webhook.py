import pytest
from django.urls import reverse

from customers.models import Interaction, SocialIdentity
from social.models import Channel, InboundEvent
from social.providers import wechat

from .conftest import FIXTURES, WECHAT_AES_KEY, WECHAT_TOKEN

pytestmark = pytest.mark.django_db
CORP_ID = "ww0123456789abcdef"
CONTACT = "wmEAlECwAAHrbWYDOK5u3Bf13xlYDAAA"


@pytest.fixture
def wecom_channel(db, team):
    channel = Channel(kind="wecom", name="Sales WeCom", team=team)
    channel.set_credentials(
        {"corp_id": CORP_ID, "secret": "s", "token": WECHAT_TOKEN, "aes_key": WECHAT_AES_KEY}
    )
    channel.save()
    return channel


def _post(client, channel, name, *, token=WECHAT_TOKEN):
    xml = (FIXTURES / "wecom" / f"{name}.xml").read_text()
    ciphertext = wechat.encrypt(WECHAT_AES_KEY, CORP_ID, xml)
    signature = wechat.sha1_signature(token, "1700000000", "n", ciphertext)
    body = f"<xml><ToUserName>{CORP_ID}</ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>"
    url = reverse("webhook-wecom", kwargs={"key": channel.webhook_key})
    return client.post(
        f"{url}?msg_signature={signature}&timestamp=1700000000&nonce=n", body, content_type="text/xml"
    )


def test_wecom_url_verification_decrypts_the_echostr(client, wecom_channel):
    echostr = wechat.encrypt(WECHAT_AES_KEY, CORP_ID, "1616140317555161061")
    signature = wechat.sha1_signature(WECHAT_TOKEN, "1700000000", "n", echostr)
    url = reverse("webhook-wecom", kwargs={"key": wecom_channel.webhook_key})
    ok = client.get(
        url, {"msg_signature": signature, "timestamp": "1700000000", "nonce": "n", "echostr": echostr}
    )
    assert ok.status_code == 200 and ok.content == b"1616140317555161061"
    bad = client.get(
        url, {"msg_signature": "0" * 40, "timestamp": "1700000000", "nonce": "n", "echostr": echostr}
    )
    assert bad.status_code == 403


def test_a_contact_adding_a_staff_member_becomes_a_customer_and_removing_them_unfollows(
    client, wecom_channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, wecom_channel, "add_external_contact").status_code == 200
    identity = SocialIdentity.objects.get(external_id=CONTACT)
    assert identity.provider == "wecom" and identity.followed
    assert Interaction.objects.filter(customer=identity.customer, kind="follow").exists()
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, wecom_channel, "del_follow_user")
    identity.refresh_from_db()
    assert not identity.followed


def test_a_wecom_callback_with_a_wrong_signature_is_refused(client, wecom_channel):
    assert _post(client, wecom_channel, "add_external_contact", token="wrong").status_code == 403
    assert not InboundEvent.objects.exists()
