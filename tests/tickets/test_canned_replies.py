"""Canned replies: filled-in variables (safely), who may use and edit them, the picker on a ticket."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from crm import roles
from tests.factories import CustomerFactory, UserFactory
from tickets import knowledge, services
from tickets.models import CannedReply
from tickets.services import knowledge as kb

pytestmark = pytest.mark.django_db


@pytest.fixture
def greeting(manager):
    return kb.canned_reply_save(
        actor=manager,
        title="Greeting",
        shortcut="hi",
        body="{{ customer.first_name }} 您好,我是 {{agent.name}},關於案件 #{{ ticket.number }}({{ ticket.subject }})…",
    )


def test_variables_are_filled_in_from_the_ticket_its_customer_and_the_agent(greeting, rep, customer):
    rep.first_name, rep.last_name = "雅婷", "林"
    rep.save()
    ticket = services.ticket_create(actor=rep, customer=customer, subject="無法登入")
    context = knowledge.ReplyContext(customer=customer, agent=rep, ticket=ticket)
    assert knowledge.canned_render(greeting.body, context) == (
        f"小明 您好,我是 雅婷 林,關於案件 #{ticket.number}(無法登入)…"
    )


def test_a_reply_never_runs_the_template_engine_and_leaves_unknown_names_as_typed():
    context = knowledge.ReplyContext(customer=CustomerFactory.build(name="Amy Cheng"))
    body = "Hi {{ customer.first_name }} {% load x %}{{ settings.SECRET_KEY }} {{ customer.name|upper }}"
    assert knowledge.canned_render(body, context) == (
        "Hi Amy {% load x %}{{ settings.SECRET_KEY }} {{ customer.name|upper }}"
    )
    assert knowledge.canned_render("{{ ticket.number }}", knowledge.ReplyContext()) == "{{ ticket.number }}"


@pytest.mark.parametrize(
    ("name", "first"),
    [("王小明", "小明"), ("歐陽娜娜", "娜娜"), ("Amy Cheng", "Amy"), ("陳", "陳"), ("", "")],
)
def test_first_names_for_chinese_and_latin_names(name, first):
    assert knowledge.first_name(name) == first


def test_a_reply_with_a_misspelt_variable_is_refused_with_the_list_of_known_ones(manager):
    with pytest.raises(ValidationError) as excinfo:
        kb.canned_reply_save(actor=manager, title="Oops", body="Hi {{ custmer.name }}")
    message = excinfo.value.message_dict["body"][0]
    assert "{{ custmer.name }}" in message and "{{ customer.name }}" in message
    assert not CannedReply.objects.exists()


def test_agents_use_shared_replies_but_do_not_write_them(greeting, agent):
    assert list(knowledge.canned_replies_for(agent)) == [greeting]
    with pytest.raises(PermissionDenied):
        kb.canned_reply_save(actor=agent, title="Mine", body="text")
    with pytest.raises(PermissionDenied):
        kb.canned_reply_delete(actor=agent, reply=greeting)


def test_team_replies_stay_in_the_team(manager, agent, other_team):
    private = kb.canned_reply_save(actor=manager, title="Team only", body="x", shared=False, team=agent.team)
    outsider = UserFactory(username="outsider", role=roles.AGENT, team=other_team)
    assert private in knowledge.canned_replies_for(agent)
    assert private not in knowledge.canned_replies_for(outsider)


def test_the_picker_on_a_ticket_offers_filled_in_replies_for_the_reply_box(greeting, login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="無法登入")
    client = login(rep)
    page = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert 'data-testid="canned-picker"' in page and "target=id_body" in page
    options = client.get(
        reverse("tickets:canned-picker"), {"target": "id_body", "ticket": ticket.pk, "q": "/hi"}
    )
    body = options.content.decode()
    assert 'data-canned-target="id_body"' in body
    assert "小明 您好" in body and f"#{ticket.number}" in body


def test_the_picker_does_not_fill_in_a_customer_the_user_cannot_see(greeting, login, rep, other_team):
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    hidden = CustomerFactory(name="秘密客戶", owner=outsider)
    response = login(rep).get(reverse("tickets:canned-picker"), {"target": "x", "customer": hidden.pk})
    assert response.status_code == 404


def test_the_picker_can_serve_the_social_inbox_with_a_customer(greeting, login, rep, customer):
    response = login(rep).get(
        reverse("tickets:canned-picker"), {"target": "message-text", "customer": customer.pk}
    )
    assert "小明 您好" in response.content.decode()


def test_managers_manage_replies_from_the_pages(login, manager):
    client = login(manager)
    response = client.post(
        reverse("tickets:canned-create"),
        {
            "title": "Thanks",
            "shortcut": "Thanks Much",
            "body": "Thank you, {{ customer.name }}!",
            "shared": "on",
        },
    )
    assert response.status_code == 302
    reply = CannedReply.objects.get()
    assert reply.shortcut == "thanks-much" and reply.owner == manager
    assert "Thanks" in client.get(reverse("tickets:canned")).content.decode()
    assert (
        "Delete “Thanks”?" in client.get(reverse("tickets:canned-delete", args=[reply.pk])).content.decode()
    )
    client.post(reverse("tickets:canned-delete", args=[reply.pk]))
    assert not CannedReply.objects.exists()
