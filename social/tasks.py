"""Thin Celery tasks: ids in, a service call, nothing else."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import outbound, processing
from .inbox_delivery import DeliveryError
from .models import InboundEvent
from .providers.http import ProviderError

SWEEP_AFTER = timedelta(seconds=30)
SWEEP_CHUNK = 500


@shared_task(
    name="social.process_events",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=300,
    soft_time_limit=290,
)
def process_events(event_ids=None, **kwargs):
    result = processing.inbound_events_process(event_ids=event_ids)
    if result["more"]:
        process_events.delay()
    return result


@shared_task(name="social.sweep_pending_events", time_limit=120, soft_time_limit=110)
def sweep_pending_events(**kwargs):
    """Re-enqueue events still pending after a while (the broker was down, a worker died)."""
    cutoff = timezone.now() - SWEEP_AFTER
    ids = list(
        InboundEvent.objects.filter(status=InboundEvent.Status.PENDING, received_at__lt=cutoff)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)[: SWEEP_CHUNK * 20]
    )
    for start in range(0, len(ids), SWEEP_CHUNK):
        process_events.delay(ids[start : start + SWEEP_CHUNK])
    replies = outbound.stale_auto_replies()
    if replies:
        send_queued_messages.delay(replies)
    return len(ids)


@shared_task(
    name="social.refresh_profiles",
    bind=True,
    acks_late=True,
    autoretry_for=(ProviderError,),
    retry_backoff=5,
    max_retries=5,
    time_limit=300,
    soft_time_limit=290,
)
def refresh_profiles(self, identity_ids, **kwargs):
    return outbound.identities_refresh_profiles(identity_ids=identity_ids)


@shared_task(
    name="social.fetch_media",
    bind=True,
    acks_late=True,
    autoretry_for=(ProviderError,),
    retry_backoff=5,
    max_retries=5,
    time_limit=600,
    soft_time_limit=590,
)
def fetch_media(self, message_ids, **kwargs):
    return outbound.messages_fetch_media(message_ids=message_ids)


@shared_task(
    name="social.send_queued_messages",
    bind=True,
    acks_late=True,
    autoretry_for=(ProviderError, DeliveryError),
    retry_backoff=2,
    max_retries=6,
    time_limit=300,
    soft_time_limit=290,
)
def send_queued_messages(self, message_ids, **kwargs):
    return outbound.queued_messages_send(message_ids=message_ids)
