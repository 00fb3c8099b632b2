"""Reads of the social app that views, panels and reports share."""

from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from customers.permissions import customers_visible_to

from .models import Channel, Conversation, InboundEvent, Message


def channels_with_stats():
    """Every channel with its conversation count and pending/failed event counts: one query."""
    return Channel.objects.select_related("team").annotate(
        conversation_count=Count("conversations", distinct=True),
        pending_count=Count("inbound_events", filter=Q(inbound_events__status="pending"), distinct=True),
        failed_count=Count("inbound_events", filter=Q(inbound_events__status="failed"), distinct=True),
    )


def event_counts(*, channel: Channel) -> dict:
    rows = InboundEvent.objects.filter(channel=channel).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(InboundEvent.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def recent_failed_events(*, channel: Channel, limit: int = 10):
    return (
        InboundEvent.objects.filter(channel=channel, status=InboundEvent.Status.FAILED)
        .only("id", "event_key", "received_at", "attempts", "error")
        .order_by("-received_at")[:limit]
    )


def customer_conversations(*, user, customer, limit: int = 5, messages_per_conversation: int = 3) -> list:
    """The customer's latest conversations, each with its last few messages: three queries at most.

    Returns [] when the user may not see the customer.
    """
    if not customers_visible_to(user).filter(pk=customer.pk).exists():
        return []
    conversations = list(
        Conversation.objects.filter(customer=customer)
        .select_related("channel", "identity", "assignee")
        .order_by("-last_message_at", "-id")[:limit]
    )
    if not conversations:
        return []
    newest_first = [F("created_at").desc(), F("id").desc()]
    recent = (
        Message.objects.filter(conversation__in=conversations, is_internal_note=False)
        .annotate(rank=Window(RowNumber(), partition_by=[F("conversation_id")], order_by=newest_first))
        .filter(rank__lte=messages_per_conversation)
        .order_by("created_at", "id")
    )
    by_conversation = {}
    for message in recent:
        by_conversation.setdefault(message.conversation_id, []).append(message)
    for conversation in conversations:
        conversation.recent_messages = by_conversation.get(conversation.pk, [])
    return conversations
