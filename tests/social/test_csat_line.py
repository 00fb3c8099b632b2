"""A solved ticket's satisfaction survey reaches a LINE follower by LINE, recorded in the inbox thread;
customers who do not follow (or when LINE refuses) get it by e-mail as before."""

import pytest
from django.core import mail

from social.models import Message
from tests.factories import CustomerFactory
from tickets.models import CsatSurvey, Ticket
from tickets.services import ticket_create, ticket_set_status

from .inbox_factories import identity_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def solve(django_capture_on_commit_callbacks, settings):
    settings.TICKETS_CSAT_ENABLED = True
    settings.TICKETS_SITE_URL = "https://crm.example.com"

    def run(ticket, actor):
        with django_capture_on_commit_callbacks(execute=True):
            ticket_set_status(ticket=ticket, actor=actor, status=Ticket.Status.SOLVED)
        return CsatSurvey.objects.filter(ticket=ticket).order_by("-id").first()

    return run


@pytest.fixture
def member():
    return CustomerFactory(name="林小美", emails=["may@example.com"])


def test_a_line_follower_gets_the_survey_link_by_line_recorded_in_the_thread(
    line_channel, fake_line, member, manager, solve
):
    identity = identity_for(line_channel, customer=member, name="小美")
    ticket = ticket_create(actor=None, customer=member, subject="退款", assignee=manager)

    survey = solve(ticket, manager)

    assert survey.channel == CsatSurvey.Channel.LINE
    assert mail.outbox == []
    [push] = fake_line.calls("/message/")
    body = push.json()
    assert body.get("to") == identity.external_id
    assert "https://crm.example.com/tickets/survey/" in body["messages"][0]["text"]
    message = Message.objects.get(conversation__customer=member, direction="out")
    assert message.status == Message.Status.SENT and "退款" in message.text


def test_an_unfollowed_customer_gets_the_survey_by_email(line_channel, fake_line, member, manager, solve):
    identity_for(line_channel, customer=member, followed=False)
    ticket = ticket_create(actor=None, customer=member, subject="退款", assignee=manager)

    survey = solve(ticket, manager)

    assert survey.channel == CsatSurvey.Channel.EMAIL
    assert [m.to for m in mail.outbox] == [["may@example.com"]]
    assert fake_line.calls("/message/") == []


def test_when_line_refuses_the_push_the_survey_falls_back_to_email(
    line_channel, fake_line, member, manager, solve
):
    identity_for(line_channel, customer=member)
    fake_line.fail_next(400, path="/message/")
    ticket = ticket_create(actor=None, customer=member, subject="退款", assignee=manager)

    survey = solve(ticket, manager)

    assert survey.channel == CsatSurvey.Channel.EMAIL and len(mail.outbox) == 1
    assert Message.objects.get(conversation__customer=member, direction="out").status == Message.Status.FAILED


def test_without_the_sites_address_the_survey_is_not_sent_by_line(
    line_channel, fake_line, member, manager, solve, settings
):
    identity_for(line_channel, customer=member)
    ticket = ticket_create(actor=None, customer=member, subject="退款", assignee=manager)
    settings.TICKETS_SITE_URL = ""

    assert solve(ticket, manager).channel == CsatSurvey.Channel.EMAIL
    assert fake_line.calls("/message/") == []
