"""Thin Celery tasks of broadcasts: the sender, and the beat job that starts scheduled ones."""

from celery import shared_task

from . import broadcast_sending, broadcasts


@shared_task(name="social.broadcast_run", acks_late=True, time_limit=300, soft_time_limit=240)
def broadcast_run(broadcast_id=None, **kwargs):
    """Idempotent: only pending deliveries are sent, each batch with its own stable retry key."""
    outcome = broadcast_sending.broadcast_run(broadcast_id=broadcast_id)
    if outcome == "more":
        broadcast_run.delay(broadcast_id=broadcast_id)
    return outcome


@shared_task(name="social.broadcasts_start_due", time_limit=60, soft_time_limit=50)
def broadcasts_start_due(**kwargs):
    return broadcasts.broadcasts_start_due()
