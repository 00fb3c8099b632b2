"""Reminders of due follow-ups, in the app (live) and by e-mail, each sent once."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from crm import pubsub

from ..models import Task

logger = logging.getLogger(__name__)


# Reminders -------------------------------------------------------------------------------------

REMINDER_BATCH = 200
REMINDER_MAX_BATCHES = 25


def reminders_send_due(*, now=None, batch_size=REMINDER_BATCH, max_batches=REMINDER_MAX_BATCHES) -> int:
    """Remind assignees of the tasks now due, in the app (live) and by e-mail; each task once.

    Claims a bounded batch at a time (rows locked with SKIP LOCKED, so two beat runs never send the
    same reminder) and marks it sent in the same transaction before delivering.
    """
    now = now or timezone.now()
    sent = 0
    for _batch in range(max_batches):
        with transaction.atomic():
            tasks = list(
                Task.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(done_at__isnull=True, reminder_sent_at__isnull=True, remind_at__lte=now)
                .select_related("assignee", "customer", "team__manager", "deal")
                .order_by("remind_at", "id")[:batch_size]
            )
            if not tasks:
                break
            Task.objects.filter(pk__in=[t.pk for t in tasks]).update(reminder_sent_at=now)
        for task in tasks:
            _deliver_reminder(task, now)
        sent += len(tasks)
        if len(tasks) < batch_size:
            break
    return sent


def _deliver_reminder(task: Task, now) -> None:
    recipient = task.assignee or (task.team.manager if task.team else None)
    if recipient is None or not recipient.is_active:
        return
    with (
        translation.override(recipient.language or settings.LANGUAGE_CODE),
        timezone.override(recipient.timezone or settings.TIME_ZONE),
    ):
        context = {"task": task, "recipient": recipient, "now": now}
        html = render_to_string("sales/notification.html", context)
        pubsub.publish(pubsub.user_channel(recipient.pk), "notify", html)
        if recipient.email:
            try:
                send_mail(
                    subject=render_to_string("sales/reminder_subject.txt", context).strip(),
                    message=render_to_string("sales/reminder_email.txt", context),
                    from_email=None,
                    recipient_list=[recipient.email],
                )
            except Exception:  # noqa: BLE001 - one failing mailbox must not stop the other reminders
                logger.warning("sales: reminder e-mail for task %s failed", task.pk, exc_info=True)
