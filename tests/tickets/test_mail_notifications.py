"""Agents hear by e-mail (Django's SMTP backend, a local sink here) when a ticket is given to them."""

import pytest

from tickets.services import ticket_create, ticket_update

pytestmark = pytest.mark.django_db


def test_the_assignee_gets_an_email_when_someone_else_assigns_the_ticket(
    customer, manager, agent, smtp_sink, django_capture_on_commit_callbacks
):
    ticket = ticket_create(actor=manager, customer=customer, subject="Parcel lost")

    with django_capture_on_commit_callbacks(execute=True):
        ticket_update(ticket=ticket, actor=manager, assignee=agent)

    [envelope] = smtp_sink.envelopes
    [message] = smtp_sink.messages
    assert envelope.rcpt_tos == [agent.email]
    assert f"#{ticket.number} Parcel lost" in message["Subject"]
    assert f"/tickets/{ticket.pk}/" in message.get_payload(decode=True).decode()


def test_taking_a_ticket_yourself_sends_nothing(
    customer, manager, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_create(actor=manager, customer=customer, subject="Mine", assignee=manager)

    assert smtp_sink.envelopes == []


def test_a_new_ticket_assigned_to_someone_else_tells_them(
    customer, manager, agent, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_create(actor=manager, customer=customer, subject="For you", assignee=agent)

    assert [e.rcpt_tos for e in smtp_sink.envelopes] == [[agent.email]]
