"""Thin Celery tasks of the inbox: deliver one reply."""

from celery import shared_task

from . import inbox_delivery as delivery

RETRY_DELAYS = (2, 10, 30, 120)  # seconds: LINE's 429s and 5xx are usually short


@shared_task(bind=True, name="social.message_deliver", acks_late=True, time_limit=60, soft_time_limit=50)
def message_deliver(self, message_id=None, **kwargs):
    """Idempotent: only a queued message is sent, and LINE pushes carry the message's retry key."""
    if self.request.is_eager:  # the embedded demo and tests: retry at once, in the same call
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                delivery.message_deliver(message_id=message_id, final_attempt=attempt == len(RETRY_DELAYS))
                return
            except delivery.DeliveryError:
                continue
        return
    final = self.request.retries >= len(RETRY_DELAYS)
    try:
        delivery.message_deliver(message_id=message_id, final_attempt=final)
    except delivery.DeliveryError as exc:
        raise self.retry(countdown=RETRY_DELAYS[self.request.retries], exc=exc) from None
