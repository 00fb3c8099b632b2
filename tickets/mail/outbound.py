"""E-mail going out on a ticket's thread: public replies to the customer, with Message-ID, In-Reply-To
and References set so that the customer's mail client keeps the conversation together, and the
[#T-123] token in the subject as a fallback for clients that drop those headers."""

from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from customers.models import ContactPoint

from ..models import Mailbox, Ticket, TicketComment, TicketEmail

MAX_REFERENCES = 20


def customer_language(customer, default: str = "") -> str:
    """The customer's language when the profile records one ("language" attribute), else `default`."""
    value = str((customer.custom_attributes or {}).get("language", "")).lower()
    return value if value in dict(settings.LANGUAGES) else default


def customer_email(ticket: Ticket) -> str:
    """Where the customer writes from on this ticket, else their primary e-mail address."""
    last = (
        TicketEmail.objects.filter(ticket=ticket, direction=TicketEmail.Direction.IN)
        .order_by("-created_at", "-id")
        .values_list("from_address", flat=True)
        .first()
    )
    if last:
        return last
    return (
        ContactPoint.objects.filter(customer_id=ticket.customer_id, kind=ContactPoint.Kind.EMAIL)
        .order_by("-is_primary", "id")
        .values_list("normalised", flat=True)
        .first()
        or ""
    )


def sender_for(ticket: Ticket) -> tuple[Mailbox | None, str]:
    """The mailbox the customer wrote to (else the first enabled one) and its address."""
    mailbox = (
        Mailbox.objects.filter(pk__in=TicketEmail.objects.filter(ticket=ticket).values("mailbox_id"))
        .order_by("pk")
        .first()
    ) or Mailbox.objects.filter(enabled=True).order_by("pk").first()
    return mailbox, mailbox.email_address if mailbox else settings.DEFAULT_FROM_EMAIL


def reply_queue(ticket: Ticket, comment: TicketComment) -> None:
    """After the reply commits, e-mail it to the customer if the ticket came in by e-mail."""
    if comment.internal or ticket.source != Ticket.Source.EMAIL:
        return
    from ..tasks import email_reply_send

    transaction.on_commit(lambda: email_reply_send.delay(comment_id=comment.pk))


def reply_send(comment_id: int) -> bool:
    """E-mail one public reply; False when there is nothing to send or it was sent already."""
    comment = (
        TicketComment.objects.select_related("ticket__customer", "author")
        .prefetch_related("attachments")
        .filter(pk=comment_id, internal=False)
        .first()
    )
    if comment is None or TicketEmail.objects.filter(comment=comment).exists():
        return False
    ticket = comment.ticket
    to = customer_email(ticket)
    if not to:
        return False
    mailbox, from_email = sender_for(ticket)
    thread = list(TicketEmail.objects.filter(ticket=ticket).order_by("created_at", "id"))
    message_id = make_msgid(idstring=f"t{ticket.number}.c{comment.pk}", domain=from_email.rsplit("@", 1)[-1])
    headers = {"Message-ID": message_id}
    if thread:
        headers["In-Reply-To"] = f"<{thread[-1].message_id}>"
        headers["References"] = " ".join(f"<{e.message_id}>" for e in thread[-MAX_REFERENCES:])
    with translation.override(customer_language(ticket.customer, settings.LANGUAGE_CODE)):
        context = {"ticket": ticket, "comment": comment, "customer": ticket.customer}
        subject = render_to_string("tickets/email/reply_subject.txt", context).strip()
        body = render_to_string("tickets/email/reply.txt", context)
    message = EmailMessage(subject, body, from_email, [to], headers=headers)
    for attachment in comment.attachments.all():
        with attachment.file.open("rb") as handle:
            message.attach(attachment.original_name, handle.read(), attachment.content_type)
    message.send()
    TicketEmail.objects.create(
        ticket=ticket,
        comment=comment,
        mailbox=mailbox,
        direction=TicketEmail.Direction.OUT,
        message_id=message_id.strip("<>"),
        from_address=from_email[:255],
        to_address=to[:255],
        subject=subject[:255],
    )
    return True
