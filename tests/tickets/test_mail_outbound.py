"""An agent's public reply on an e-mail ticket reaches the customer through SMTP (a local aiosmtpd sink),
threaded so that their client shows one conversation; internal notes never leave."""

import pytest

from tickets.models import Ticket, TicketEmail
from tickets.services import ticket_reply
from tickets.services.email import email_ingest
from tickets.tasks import email_reply_send

from .mail_fixtures import make_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def email_ticket(mailbox, customer, media):
    raw = make_email(
        subject="Parcel arrived damaged",
        message_id="<first@client.example>",
        sender=("Wang", "wang.alt@example.com"),
    )
    return email_ingest(raw=raw, mailbox=mailbox).ticket


def test_a_public_reply_is_emailed_in_the_customers_thread(
    email_ticket, agent, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = ticket_reply(ticket=email_ticket, actor=agent, body="We are sending a replacement.")

    [envelope] = smtp_sink.envelopes
    [message] = smtp_sink.messages
    assert envelope.rcpt_tos == ["wang.alt@example.com"]  # where they wrote from
    assert envelope.mail_from == "support@example.com"
    assert message["In-Reply-To"] == "<first@client.example>"
    assert message["References"] == "<first@client.example>"
    assert message["Subject"] == f"Re: Parcel arrived damaged [#T-{email_ticket.number}]"
    assert "We are sending a replacement." in message.get_payload(decode=True).decode()
    sent = TicketEmail.objects.get(comment=comment)
    assert f"<{sent.message_id}>" == message["Message-ID"]


def test_the_next_reply_references_the_whole_thread(
    email_ticket, agent, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=email_ticket, actor=agent, body="First answer.")
        ticket_reply(ticket=email_ticket, actor=agent, body="Second answer.")

    first, second = smtp_sink.messages
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"].split() == ["<first@client.example>", first["Message-ID"]]


def test_internal_notes_and_replies_on_phone_tickets_are_not_emailed(
    email_ticket, agent, customer, smtp_sink, django_capture_on_commit_callbacks
):
    from tickets.services import ticket_create

    phone_ticket = ticket_create(actor=None, customer=customer, subject="Call", source=Ticket.Source.PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=email_ticket, actor=agent, body="Note to self.", internal=True)
        ticket_reply(ticket=phone_ticket, actor=agent, body="Called back.")

    assert smtp_sink.envelopes == []


def test_sending_a_reply_twice_sends_one_email(
    email_ticket, agent, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = ticket_reply(ticket=email_ticket, actor=agent, body="Once.")

    assert email_reply_send(comment_id=comment.pk) is False
    assert len(smtp_sink.envelopes) == 1


def test_reply_attachments_go_with_the_email(
    email_ticket, agent, smtp_sink, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("label.pdf", b"%PDF-1.4 return label", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=email_ticket, actor=agent, body="Here is the return label.", attachments=[upload])

    [message] = smtp_sink.messages
    names = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert names == ["label.pdf"]
