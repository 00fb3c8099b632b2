"""Binding a LINE identity to an existing customer: by the operator, on a phone-number proposal, and by
the customer through LINE's account link."""

import re
import urllib.parse

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from customers.models import Interaction
from social import binding
from tests.factories import CustomerFactory
from tests.social.inbox_factories import conversation_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(line_channel, fake_line):
    return conversation_for(line_channel, messages=["hi"], name="LINE 小明")


def test_an_operator_binds_the_line_account_to_the_customer_they_found(
    login, manager, conversation, customer
):
    client = login(manager)
    results = client.get(f"/inbox/{conversation.pk}/bind/?q=王小明").content.decode()
    assert "王小明" in results and 'data-testid="bind-confirm"' in results
    client.post(f"/inbox/{conversation.pk}/bind/", {"customer": customer.pk})
    conversation.refresh_from_db()
    conversation.identity.refresh_from_db()
    assert conversation.customer == customer and conversation.identity.customer == customer
    assert Interaction.objects.filter(customer=customer, summary__contains="bound to this customer").exists()
    assert conversation.messages.filter(kind="event", text="Bound to customer 王小明").exists()


def test_binding_to_a_customer_the_operator_cannot_see_is_refused(conversation, agent, customer):
    with pytest.raises(PermissionDenied):
        binding.identity_bind(actor=agent, conversation=conversation, customer=customer)
    conversation.refresh_from_db()
    assert conversation.customer != customer


def test_binding_twice_to_the_same_customer_says_so(conversation, manager, customer):
    binding.identity_bind(actor=manager, conversation=conversation, customer=customer)
    conversation.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        binding.identity_bind(actor=manager, conversation=conversation, customer=customer)
    assert "already bound" in str(exc.value)


def test_a_phone_number_the_follower_sends_proposes_the_matching_customer(
    login, manager, line_channel, customer
):
    conversation = conversation_for(line_channel, messages=["我的電話是 0912 345 678 謝謝"], name="LINE 小明")
    page = login(manager).get(f"/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="binding-proposal"' in page and "王小明" in page


def test_no_proposal_for_numbers_nobody_has_or_customers_out_of_sight(login, agent, line_channel, customer):
    conversation = conversation_for(
        line_channel, messages=["0912-345-678", "call 0987 000 111"], name="LINE 小明"
    )
    page = login(agent).get(f"/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="binding-proposal"' not in page and "王小明" not in page


def test_the_customer_links_their_line_account_through_lines_account_link(
    client, manager, conversation, fake_line, settings, django_capture_on_commit_callbacks
):
    settings.SOCIAL_PUBLIC_URL = "https://crm.example.com"
    member = CustomerFactory(name="會員 陳", emails=["chen@example.com"])
    with django_capture_on_commit_callbacks(execute=True):
        url = binding.link_invite(actor=manager, conversation=conversation)
    assert (
        fake_line.calls("/linkToken")[0].path == f"/v2/bot/user/{conversation.identity.external_id}/linkToken"
    )
    pushed = fake_line.calls("/push")[0].json()["messages"][0]["text"]
    assert url in pushed and url.startswith("https://crm.example.com/inbox/link/")
    path = url.removeprefix("https://crm.example.com")

    assert client.get(path).status_code == 200
    client.post(path, {"email": "CHEN@example.com"})
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert client.post(path, {"code": "000000" if code != "000000" else "111111"}).status_code == 200
    response = client.post(path, {"code": code})
    assert response.status_code == 302
    target = urllib.parse.urlsplit(response["Location"])
    assert target.netloc == "access.line.me" and target.path == "/dialog/bot/accountLink"
    query = urllib.parse.parse_qs(target.query)
    assert query["linkToken"] == [f"link-{conversation.identity.external_id[-6:]}"]

    event = {
        "type": "accountLink",
        "mode": "active",
        "timestamp": 1700000000000,
        "source": {"type": "user", "userId": conversation.identity.external_id},
        "replyToken": "b60d432864f44d079f6d8efe86cf404b",
        "link": {"result": "ok", "nonce": query["nonce"][0]},
    }
    assert binding.account_link_complete(channel=conversation.channel, event=event) is True
    conversation.refresh_from_db()
    assert conversation.customer == member
    assert binding.account_link_complete(channel=conversation.channel, event=event) is False  # nonce used up


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, manager, conversation, fake_line):
    url = binding.link_invite(actor=manager, conversation=conversation)
    path = urllib.parse.urlsplit(url).path
    page = client.post(path, {"email": "nobody@example.com"}).content.decode()
    assert "If that address is in our records" in page
    assert mail.outbox == []
    assert "not right" in client.post(path, {"code": "123456"}).content.decode()


def test_a_forged_link_is_refused(client):
    assert client.get("/inbox/link/forged-token/").status_code == 404


def test_with_the_merge_service_the_followers_empty_profile_is_merged_into_the_customer(
    login, agent, conversation, customer
):
    from customers.models import Customer

    placeholder = conversation.customer
    customer.owner = agent  # the agent may see the customer they bind to
    customer.save()
    binding.identity_bind(actor=agent, conversation=conversation, customer=customer)
    placeholder.refresh_from_db()
    conversation.refresh_from_db()
    assert placeholder.merged_into_id == customer.pk
    assert conversation.customer == customer
    assert Customer.objects.filter(pk=customer.pk, social_identities=conversation.identity).exists()


def test_merging_two_real_profiles_needs_a_manager(agent, manager, conversation, customer):
    from customers.models import ContactPoint

    placeholder = conversation.customer
    ContactPoint.objects.create(
        customer=placeholder, kind="email", value="x@example.com", normalised="x@example.com"
    )
    placeholder.team = manager.team
    placeholder.save()
    customer.owner = agent
    customer.save()
    with pytest.raises(PermissionDenied) as exc:
        binding.identity_bind(actor=agent, conversation=conversation, customer=customer)
    assert "needs a manager" in str(exc.value)
    binding.identity_bind(actor=manager, conversation=conversation, customer=customer)
    placeholder.refresh_from_db()
    assert placeholder.merged_into_id == customer.pk
