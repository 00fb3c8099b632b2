"""A support mailbox read over IMAP (a fake server on 127.0.0.1): new mail opens tickets, replies thread
onto them, a re-poll duplicates nothing, attachments are kept and checked."""

import pytest
from django.core import mail

from customers.models import ContactPoint, Customer, Interaction
from tickets import crypto
from tickets.mail.imap import mailbox_poll
from tickets.models import Mailbox, Ticket, TicketAttachment, TicketComment, TicketEmail
from tickets.services import ticket_reply, ticket_set_status
from tickets.services.email import email_ingest
from tickets.tasks import mail_poll

from .mail_fixtures import make_email

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def files(media):
    return media


def test_a_new_email_opens_a_ticket_for_the_customer_with_that_address(imap_server, mailbox, customer, team):
    imap_server.add(
        make_email(
            subject="Parcel arrived damaged", body="The box was crushed.", sender=("Wang", "WANG@example.com")
        )
    )

    result = mailbox_poll(mailbox)

    assert (result.fetched, result.created) == (1, 1)
    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.subject, ticket.description) == (
        customer,
        "Parcel arrived damaged",
        "The box was crushed.",
    )
    assert (ticket.source, ticket.team) == (Ticket.Source.EMAIL, team)
    assert Interaction.objects.filter(
        customer=customer, kind=Interaction.Kind.TICKET, channel="email"
    ).exists()
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.uid_validity, mailbox.last_error) == (1, imap_server.uid_validity, "")
    assert imap_server.messages[1]["flags"] == {"\\Seen"}


def test_an_unknown_sender_becomes_a_new_customer_with_the_address_lower_cased(imap_server, mailbox):
    imap_server.add(make_email(sender=("陳美麗", "Mei.Chen@Example.com"), charset="big5"))

    mailbox_poll(mailbox)

    customer = Customer.objects.get()
    assert customer.name == "陳美麗"
    point = ContactPoint.objects.get(customer=customer)
    assert (point.kind, point.normalised) == (ContactPoint.Kind.EMAIL, "mei.chen@example.com")
    assert Ticket.objects.get().customer == customer


def test_polling_again_creates_nothing_twice(imap_server, mailbox, customer):
    imap_server.add(make_email(message_id="<once@client>"))
    mailbox_poll(mailbox)
    imap_server.reset_uids()  # the server renumbered its messages: everything is read again

    result = mailbox_poll(mailbox)

    assert (result.fetched, result.duplicates) == (1, 1)
    assert Ticket.objects.count() == 1 and TicketEmail.objects.count() == 1


def test_only_messages_after_the_last_one_read_are_fetched(imap_server, mailbox, customer):
    imap_server.add(make_email(message_id="<a@client>"))
    mailbox_poll(mailbox)
    imap_server.commands.clear()

    result = mailbox_poll(mailbox)  # "UID 2:*" still answers with message 1

    assert result.fetched == 0
    assert "UID FETCH" not in imap_server.commands


def test_a_reply_threads_onto_its_ticket_by_in_reply_to_and_reopens_it(
    imap_server, mailbox, customer, agent, smtp_sink, django_capture_on_commit_callbacks
):
    imap_server.add(make_email(message_id="<first@client>", sender=("Wang", "wang@example.com")))
    mailbox_poll(mailbox)
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        comment = ticket_reply(
            ticket=ticket, actor=agent, body="Sorry! A replacement is on its way.", status="pending"
        )
    sent = TicketEmail.objects.get(comment=comment)
    assert sent.direction == TicketEmail.Direction.OUT

    imap_server.add(
        make_email(
            subject="Re: Parcel arrived damaged",
            body="It has not arrived yet.\n\nOn Mon, 23 Nov 2026, Support <support@example.com> wrote:\n> Sorry!",
            message_id="<second@client>",
            in_reply_to=f"<{sent.message_id}>",
            references=f"<first@client> <{sent.message_id}>",
        )
    )
    result = mailbox_poll(mailbox)

    assert (result.created, result.replies) == (0, 1)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    last = ticket.comments.order_by("-id").first()
    assert (last.body, last.author, last.internal) == ("It has not arrived yet.", None, False)
    assert last.email.direction == TicketEmail.Direction.IN


def test_a_reply_whose_client_dropped_the_headers_threads_by_the_subject_token(mailbox, customer):
    first = email_ingest(
        raw=make_email(message_id="<one@client>", sender=("Wang", "wang@example.com")), mailbox=mailbox
    )
    token = f"[#T-{first.ticket.number}]"

    second = email_ingest(
        raw=make_email(
            subject=f"Re: Parcel {token}", message_id="<two@client>", sender=("Wang", "wang@example.com")
        ),
        mailbox=mailbox,
    )

    assert second.ticket == first.ticket and not second.created


def test_a_stranger_cannot_write_into_a_ticket_by_guessing_its_number(mailbox, customer):
    first = email_ingest(
        raw=make_email(message_id="<one@client>", sender=("Wang", "wang@example.com")), mailbox=mailbox
    )

    other = email_ingest(
        raw=make_email(
            subject=f"[#T-{first.ticket.number}] hi",
            message_id="<x@evil>",
            sender=("Eve", "eve@evil.example"),
        ),
        mailbox=mailbox,
    )

    assert other.created and other.ticket != first.ticket
    assert not TicketComment.objects.filter(ticket=first.ticket).exists()


def test_a_reply_to_a_closed_ticket_opens_a_follow_up_ticket(mailbox, customer, admin_user):
    first = email_ingest(raw=make_email(message_id="<one@client>"), mailbox=mailbox)
    ticket_set_status(ticket=first.ticket, actor=admin_user, status=Ticket.Status.CLOSED)

    again = email_ingest(
        raw=make_email(message_id="<two@client>", in_reply_to="<one@client>"), mailbox=mailbox
    )

    assert again.created and again.ticket != first.ticket
    assert f"#{first.ticket.number}" in again.ticket.description


def test_attachments_are_kept_and_refused_ones_are_listed(mailbox, customer):
    raw = make_email(
        attachments=[
            ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 100),
            ("virus.exe", "application/octet-stream", b"MZ" + b"0" * 100),
        ]
    )

    ticket = email_ingest(raw=raw, mailbox=mailbox).ticket

    attachment = TicketAttachment.objects.get(ticket=ticket)
    assert (attachment.original_name, attachment.content_type) == ("photo.png", "image/png")
    assert "virus.exe" in ticket.description


def test_auto_replies_open_no_ticket(mailbox):
    result = email_ingest(raw=make_email(headers={"Auto-Submitted": "auto-replied"}), mailbox=mailbox)
    assert result.skipped and not Ticket.objects.exists()


def test_mail_from_our_own_mailbox_address_opens_no_ticket(mailbox):
    result = email_ingest(raw=make_email(sender=("Support", "Support@Example.com")), mailbox=mailbox)
    assert result.skipped and not Ticket.objects.exists()


def test_a_message_that_cannot_become_a_ticket_does_not_block_the_mailbox(imap_server, mailbox, customer):
    imap_server.add(make_email(sender=("Broken", "broken@bad_domain"), message_id="<bad@x>"))
    imap_server.add(make_email(message_id="<good@x>"))

    result = mailbox_poll(mailbox)

    assert (result.fetched, result.skipped, result.created) == (2, 1, 1)
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 2 and not mailbox.last_error


def test_a_poll_while_another_one_reads_the_same_mailbox_does_nothing(imap_server, mailbox):
    from django.core.cache import cache
    from django.db import connection

    imap_server.add(make_email())
    lock = f"tickets:mail-poll:{connection.settings_dict['NAME']}:{mailbox.pk}"
    cache.add(lock, 1, timeout=60)
    try:
        result = mailbox_poll(mailbox)
    finally:
        cache.delete(lock)

    assert result.fetched == 0 and imap_server.commands == []


def test_a_wrong_password_is_recorded_on_the_mailbox_and_reads_nothing(imap_server, mailbox):
    imap_server.add(make_email())
    Mailbox.objects.filter(pk=mailbox.pk).update(password_encrypted=crypto.encrypt("wrong"))
    mailbox.refresh_from_db()

    result = mailbox_poll(mailbox)

    mailbox.refresh_from_db()
    assert result.fetched == 0 and "Login refused" in mailbox.last_error
    assert not Ticket.objects.exists()


def test_the_beat_task_reads_every_enabled_mailbox(imap_server, mailbox, customer):
    imap_server.add(make_email())
    Mailbox.objects.create(
        name="Off", email_address="off@example.com", host="127.0.0.1", port=1, username="x", enabled=False
    )

    outcome = mail_poll.delay().get()

    assert list(outcome) == [mailbox.pk] and outcome[mailbox.pk]["created"] == 1
    assert not mail.outbox  # a new ticket does not write to the customer by itself


def test_the_ticket_page_shows_the_customers_emailed_reply_as_theirs(mailbox, customer, admin_user, login):
    first = email_ingest(raw=make_email(message_id="<one@client>", sender=("Wang", "wang@example.com")))
    email_ingest(
        raw=make_email(message_id="<two@client>", in_reply_to="<one@client>", body="Any news?"),
        mailbox=mailbox,
    )

    page = login(admin_user).get(f"/tickets/{first.ticket.pk}/").content.decode()

    assert 'data-testid="comment-from-customer"' in page and "Any news?" in page
    assert "王小明" in page.split('data-testid="comment-from-customer"')[1][:200]


def test_followers_hear_that_the_customer_replied(
    mailbox, customer, manager, django_capture_on_commit_callbacks
):
    first = email_ingest(raw=make_email(message_id="<one@client>", sender=("Wang", "wang@example.com")))
    first.ticket.followers.add(manager)

    with django_capture_on_commit_callbacks(execute=True):
        email_ingest(raw=make_email(message_id="<two@client>", in_reply_to="<one@client>", body="Any news?"))

    [message] = [m for m in mail.outbox if m.to == [manager.email]]
    assert "王小明 (the customer) replied:" in message.body and "Any news?" in message.body
