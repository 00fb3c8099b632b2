"""Followers hear about replies, notes and status changes by e-mail, in their own language."""

import pytest
from django.core import mail

from tickets import services

pytestmark = pytest.mark.django_db


def test_followers_but_not_the_author_get_an_email(
    customer, rep, other_rep, manager, django_capture_on_commit_callbacks, settings
):
    settings.TICKETS_CSAT_ENABLED = False  # the customer's survey e-mail: test_csat.py
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Parcel lost")
    ticket.followers.add(rep, other_rep, manager)
    manager.language = "zh-hant"
    manager.save()

    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=ticket, actor=rep, body="We found it & sent it today.")

    assert sorted(m.to[0] for m in mail.outbox) == [manager.email, other_rep.email]
    message = next(m for m in mail.outbox if m.to == [other_rep.email])
    assert message.subject == f"[#{ticket.number}] Parcel lost"
    assert "We found it & sent it today." in message.body and f"/tickets/{ticket.pk}/" in message.body

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_set_status(ticket=ticket, actor=other_rep, status="solved")
    assert sorted(m.to[0] for m in mail.outbox) == [manager.email, rep.email]
    assert "set the status to Solved" in next(m for m in mail.outbox if m.to == [rep.email]).body


def test_nobody_following_sends_nothing(customer, rep, django_capture_on_commit_callbacks):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Quiet")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=ticket, actor=rep, body="Note to self", internal=True)
    assert mail.outbox == []
