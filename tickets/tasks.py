"""Thin Celery tasks: the SLA sweep on beat, and escalation e-mails after it."""

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from .models import Escalation
from .services import sla_sweep


@shared_task(name="tickets.sla_sweep", acks_late=True, time_limit=300, soft_time_limit=240)
def sla_sweep_task(**kwargs):
    """Idempotent (each warning, breach and escalation is recorded once), so a redelivery is harmless."""
    result = sla_sweep()
    return {"tickets": result.tickets, "warnings": result.warnings, "breaches": result.breaches}


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
