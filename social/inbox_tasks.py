"""Thin Celery tasks of the inbox: deliver one reply."""

from celery import shared_task

from . import inbox

RETRY_DELAYS = (2, 10, 30, 120)  # seconds: LINE's 429s and 5xx are usually short


@shared_task(bind=True, name="social.message_deliver", acks_late=True, time_limit=60, soft_time_limit=50)
def message_deliver(self, message_id=None, **kwargs):
    """Idempotent: only a queued message is sent, and LINE pushes carry the message's retry key."""
    final = self.request.retries >= len(RETRY_DELAYS)
    try:
        inbox.message_deliver(message_id=message_id, final_attempt=final)
    except inbox.DeliveryError as exc:
        raise self.retry(countdown=RETRY_DELAYS[self.request.retries], exc=exc) from None
