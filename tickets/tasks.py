"""Thin Celery tasks: the SLA sweep on beat, and escalation e-mails after it."""

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail, send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from .models import Escalation, Ticket
from .services import sla_sweep


@shared_task(name="tickets.sla_sweep", acks_late=True, time_limit=300, soft_time_limit=240)
def sla_sweep_task(**kwargs):
    """Idempotent (each warning, breach and escalation is recorded once), so a redelivery is harmless."""
    result = sla_sweep()
    return {"tickets": result.tickets, "warnings": result.warnings, "breaches": result.breaches}


@shared_task(name="tickets.followers_notify", time_limit=60, soft_time_limit=50)
def followers_notify(ticket_id=None, actor_id=None, event="", text="", status="", **kwargs):
    """Tell the ticket's followers (except whoever did it) about a reply, a note or a status change."""
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return
    followers = ticket.followers.filter(is_active=True).exclude(pk=actor_id).exclude(email="")
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    url = getattr(settings, "TICKETS_SITE_URL", "").rstrip("/") + reverse("tickets:detail", args=[ticket.pk])
    messages = []
    for user in followers:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            context = {
                "ticket": ticket,
                "actor": actor,
                "event": event,
                "text": text,
                "status": Ticket.Status(status).label if status in Ticket.Status.values else status,
                "url": url,
            }
            subject = render_to_string("tickets/email/follower_subject.txt", context).strip()
            body = render_to_string("tickets/email/follower.txt", context)
        messages.append((subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]))
    if messages:
        send_mass_mail(messages)


@shared_task(name="tickets.escalations_notify", time_limit=120, soft_time_limit=100)
def escalations_notify(escalation_ids=(), **kwargs):
    """One e-mail per person notified, listing their escalated tickets."""
    escalations = (
        Escalation.objects.filter(pk__in=list(escalation_ids), notified__isnull=False)
        .select_related("ticket", "rule")
        .order_by("notified_id", "ticket_id")
    )
    by_user: dict[int, list[Escalation]] = {}
    for escalation in escalations:
        by_user.setdefault(escalation.notified_id, []).append(escalation)
    users = get_user_model().objects.in_bulk(list(by_user))
    base = getattr(settings, "TICKETS_SITE_URL", "").rstrip("/")
    for user_id, items in by_user.items():
        user = users.get(user_id)
        if user is None or not user.email or not user.is_active:
            continue
        with (
            translation.override(user.language or settings.LANGUAGE_CODE),
            timezone.override(user.timezone or settings.TIME_ZONE),
        ):
            context = {
                "user": user,
                "items": [(e, base + reverse("tickets:detail", args=[e.ticket_id])) for e in items],
            }
            subject = render_to_string("tickets/email/escalation_subject.txt", context).strip()
            body = render_to_string("tickets/email/escalation.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


@shared_task(name="tickets.mail_poll", time_limit=600, soft_time_limit=540)
def mail_poll(mailbox_id=None, **kwargs):
    """Read the enabled mailboxes (or one) over IMAP; each message is ingested once (by Message-ID)."""
    from .mail.imap import mailbox_poll
    from .models import Mailbox

    mailboxes = Mailbox.objects.filter(enabled=True)
    if mailbox_id is not None:
        mailboxes = mailboxes.filter(pk=mailbox_id)
    return {mailbox.pk: vars(mailbox_poll(mailbox)) for mailbox in mailboxes}


@shared_task(name="tickets.email_reply_send", time_limit=120, soft_time_limit=100)
def email_reply_send(comment_id=None, **kwargs):
    """E-mail an agent's public reply to the customer of an e-mail ticket; a second run sends nothing."""
    from .mail.outbound import reply_send

    return reply_send(comment_id)


@shared_task(name="tickets.csat_send", time_limit=120, soft_time_limit=100)
def csat_send_task(ticket_id=None, solved_at="", **kwargs):
    """Send the satisfaction survey of a solved ticket; once per solve."""
    from .csat import csat_send

    survey = csat_send(ticket_id=ticket_id, solved_at=solved_at)
    return survey.pk if survey else None


@shared_task(name="tickets.assignee_notify", time_limit=60, soft_time_limit=50)
def assignee_notify(ticket_id=None, assignee_id=None, actor_id=None, **kwargs):
    """Tell an agent a ticket was given to them, if it still is."""
    ticket = Ticket.objects.select_related("customer", "assignee").filter(pk=ticket_id).first()
    if ticket is None or ticket.assignee_id != assignee_id:
        return
    user = ticket.assignee
    if not user.is_active or not user.email:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    url = getattr(settings, "TICKETS_SITE_URL", "").rstrip("/") + reverse("tickets:detail", args=[ticket.pk])
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {"ticket": ticket, "actor": actor, "url": url}
        subject = render_to_string("tickets/email/assigned_subject.txt", context).strip()
        body = render_to_string("tickets/email/assigned.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
