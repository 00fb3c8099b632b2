"""E-mail into tickets: a new message opens a ticket, a reply lands on its ticket's thread, a message seen
before is recognised by its Message-ID. Also the mailbox settings (admins), password write-only."""

import contextlib
import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Customer, Interaction
from customers.services import ContactInput, customer_create

from .. import crypto
from ..attachments import attachment_check
from ..locks import lock_ticket
from ..mail.parse import ParsedEmail, parse_message
from ..models import Mailbox, Ticket, TicketComment, TicketEmail
from ..selectors import allowed_transitions, sla_config
from .config import check_can_configure
from .tickets import (
    BODY_MAX,
    MAX_ATTACHMENTS,
    SUBJECT_MAX,
    _status_change,
    _store_attachments,
    ticket_create,
)
from .timeline import followers_tell, ticket_record

TICKET_TOKEN = re.compile(r"\[#T-(\d{1,12})\]")
REOPEN_FROM = (Ticket.Status.PENDING, Ticket.Status.SOLVED, Ticket.Status.ON_HOLD)


@dataclass
class IngestResult:
    ticket: Ticket | None
    created: bool = False
    duplicate: bool = False
    skipped: str = ""


def subject_token(ticket: Ticket) -> str:
    return f"[#T-{ticket.number}]"


def thread_find(parsed: ParsedEmail) -> Ticket | None:
    """The ticket a message answers: by In-Reply-To/References against the Message-IDs of the ticket's
    e-mails, else by the [#T-123] token our subjects carry. Merged tickets lead to the one they went into."""
    ticket = None
    if parsed.thread_ids:
        known = dict(
            TicketEmail.objects.filter(message_id__in=parsed.thread_ids[:50]).values_list(
                "message_id", "ticket_id"
            )
        )
        ticket_id = next((known[m] for m in parsed.thread_ids if m in known), None)
        if ticket_id is not None:
            ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        match = TICKET_TOKEN.search(parsed.subject)
        if match:
            ticket = Ticket.objects.filter(number=int(match.group(1))).first()
            # A guessed number must not let a stranger write into someone else's ticket.
            if ticket is not None and not _same_sender(ticket, parsed.from_address):
                ticket = None
    seen = set()
    while ticket is not None and ticket.merged_into_id is not None and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = Ticket.objects.filter(pk=ticket.merged_into_id).first()
    return ticket


def _same_sender(ticket: Ticket, address: str) -> bool:
    return (
        ContactPoint.objects.filter(
            customer_id=ticket.customer_id, kind=ContactPoint.Kind.EMAIL, normalised=address
        ).exists()
        or TicketEmail.objects.filter(ticket=ticket, from_address=address).exists()
    )


def customer_for_email(*, address: str, name: str, team=None) -> Customer:
    """The customer with this e-mail address (the oldest, when several have it), or a new one."""
    point = (
        ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, normalised=address)
        .select_related("customer")
        .order_by("customer_id")
        .first()
    )
    if point is not None:
        return point.customer
    return customer_create(
        actor=None,
        name=(name or address.split("@")[0])[:200],
        team=team,
        source="email",
        contacts=ContactInput(emails=[address]),
    )


def _files(parsed: ParsedEmail) -> tuple[list, list[str]]:
    """Attachments that pass the ticket checks, and a line for each one left out."""
    kept, refused = [], []
    for item in parsed.attachments:
        if len(kept) >= MAX_ATTACHMENTS:
            refused.append(_("“%(name)s”: too many files in one e-mail.") % {"name": item.name})
            continue
        try:
            kept.append(attachment_check(ContentFile(item.data, name=item.name)).upload)
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
    return kept, refused


def email_ingest(
    *, raw: bytes, mailbox: Mailbox | None = None, now: dt.datetime | None = None
) -> IngestResult:
    """Turn one received message into a ticket or a reply on one. Safe to call twice with the same
    message: the second call finds its Message-ID and does nothing."""
    parsed = parse_message(raw)
    known = TicketEmail.objects.filter(message_id=parsed.message_id).select_related("ticket").first()
    if known is not None:
        return IngestResult(ticket=known.ticket, duplicate=True)
    if not parsed.from_address or "@" not in parsed.from_address:
        return IngestResult(ticket=None, skipped="no sender")
    if parsed.automatic:
        return IngestResult(ticket=None, skipped="automatic")
    if Mailbox.objects.filter(email_address__iexact=parsed.from_address).exists():
        return IngestResult(ticket=None, skipped="from one of our mailboxes")  # a mail loop
    try:
        with transaction.atomic():
            return _ingest(parsed, mailbox=mailbox, now=now or timezone.now())
    except IntegrityError:  # the same message ingested by a concurrent poll a moment ago
        known = TicketEmail.objects.filter(message_id=parsed.message_id).select_related("ticket").first()
        if known is None:
            raise
        return IngestResult(ticket=known.ticket, duplicate=True)


def _ingest(parsed: ParsedEmail, *, mailbox, now) -> IngestResult:
    files, refused = _files(parsed)
    body = parsed.new_text[:BODY_MAX]
    if refused:
        body = (body + "\n\n" + _("Attachments not kept:") + "\n" + "\n".join(refused))[:BODY_MAX]
    ticket = thread_find(parsed)
    created, comment = False, None
    if ticket is not None and ticket.status != Ticket.Status.CLOSED:
        comment = ticket_customer_reply(
            ticket=ticket, body=body or _("(empty message)"), attachments=files, now=now
        )
        ticket = comment.ticket
    else:
        customer = (
            ticket.customer
            if ticket is not None
            else customer_for_email(
                address=parsed.from_address, name=parsed.from_name, team=mailbox.team if mailbox else None
            )
        )
        subject = TICKET_TOKEN.sub("", parsed.subject).strip() or _("(no subject)")
        if ticket is not None:
            body = (
                _("Follow-up to the closed ticket #%(number)s.") % {"number": ticket.number} + "\n\n" + body
            )
        ticket = ticket_create(
            actor=None,
            customer=customer,
            subject=subject[:SUBJECT_MAX],
            description=body,
            category=mailbox.default_category if mailbox and mailbox.default_category_id else None,
            priority=mailbox.default_priority if mailbox else Ticket.Priority.NORMAL,
            team=mailbox.team if mailbox else None,
            source=Ticket.Source.EMAIL,
            attachments=files,
            now=now,
            check_customer=False,
        )
        created = True
    TicketEmail.objects.create(
        ticket=ticket,
        comment=comment,
        mailbox=mailbox,
        direction=TicketEmail.Direction.IN,
        message_id=parsed.message_id,
        from_address=parsed.from_address[:255],
        to_address=",".join(parsed.to_addresses)[:255],
        subject=parsed.subject[:255],
        created_at=now,
    )
    return IngestResult(ticket=ticket, created=created)


@transaction.atomic
def ticket_customer_reply(
    *, ticket: Ticket, body: str, attachments=(), channel=Interaction.Channel.EMAIL, now=None
) -> TicketComment:
    """The customer wrote back: a public comment without an agent, on the timeline. A ticket waiting on
    the customer, on hold or solved opens again (if the status changes allow it)."""
    now = now or timezone.now()
    ticket = lock_ticket(ticket.pk)
    comment = TicketComment.objects.create(
        ticket=ticket, author=None, body=body.replace("\x00", "")[:BODY_MAX], internal=False, created_at=now
    )
    _store_attachments(ticket, [attachment_check(upload) for upload in attachments], comment=comment)
    ticket_record(
        ticket,
        actor=None,
        summary=_("Customer replied on ticket #%(number)s: %(text)s")
        % {"number": ticket.number, "text": (body.splitlines() or [""])[0][:200]},
        event="customer_reply",
        channel=channel,
        comment=comment.pk,
    )
    if ticket.status in REOPEN_FROM:
        # When the admins do not allow this change, the agent sees the reply and decides.
        with contextlib.suppress(ValidationError):
            _status_change(
                ticket,
                Ticket.Status.OPEN,
                actor=None,
                now=now,
                config=sla_config(),
                transitions=allowed_transitions(),
                notify=False,
            )
    ticket.updated_at = now
    ticket.version += 1
    ticket.save()
    followers_tell(ticket, actor=None, event="customer_reply", text=body)
    return comment


# Mailbox settings --------------------------------------------------------------------------------


@transaction.atomic
def mailbox_save(*, actor, mailbox: Mailbox, password: str | None = None) -> Mailbox:
    """Save a mailbox; `password` None keeps the stored one. A changed server or folder starts reading
    the folder from its newest message on (older mail is not turned into tickets)."""
    check_can_configure(actor)
    if password:
        mailbox.password_encrypted = crypto.encrypt(password)
    if not mailbox.password_encrypted:
        raise ValidationError({"password": _("Enter the mailbox password.")})
    if mailbox.pk:
        old = Mailbox.objects.filter(pk=mailbox.pk).values("host", "username", "folder").first() or {}
        if old and (old["host"], old["username"], old["folder"]) != (
            mailbox.host,
            mailbox.username,
            mailbox.folder,
        ):
            mailbox.uid_validity = mailbox.last_uid = 0
    mailbox.full_clean()
    mailbox.save()
    return mailbox


@transaction.atomic
def mailbox_delete(*, actor, mailbox: Mailbox) -> None:
    check_can_configure(actor)
    mailbox.delete()
