"""Conversations, messages and broadcast deliveries in merges and data-subject requests (see
customers.registry, when installed)."""

import contextlib

from django.utils.translation import gettext_lazy as _

from .models import BroadcastDelivery, Conversation, Message


def conversations_move(*, loser, winner) -> dict:
    from customers.registry import move_rows

    # Messages point at the customer only through their conversation: they move with it.
    return {"conversations": move_rows(Conversation.objects.all(), "customer", loser, winner)}


def conversations_undo(*, loser, winner, data) -> None:
    from customers.registry import undo_rows

    undo_rows(Conversation, "customer", data.get("conversations"), loser, winner)


def conversations_export(*, customer) -> dict:
    from customers.registry import rows

    return {
        "conversations": rows(
            Conversation.objects.filter(customer=customer).order_by("pk"),
            "id",
            "channel__name",
            "channel__kind",
            "status",
            "created_at",
            "last_message_at",
        ),
        "messages": rows(
            Message.objects.filter(conversation__customer=customer, is_internal_note=False).order_by(
                "created_at", "pk"
            ),
            "id",
            "conversation_id",
            "direction",
            "kind",
            "text",
            "media",
            "status",
            "created_at",
        ),
    }


def conversations_erase(*, customer) -> dict:
    """Message texts, payloads and media go (files deleted from storage); the rows stay for the counts."""
    from customers.registry import ERASED

    messages = Message.objects.filter(conversation__customer=customer)
    for message in messages.exclude(media="").only("pk", "media"):
        with contextlib.suppress(OSError):  # already gone from storage: the column is cleared below
            message.media.delete(save=False)
    count = messages.update(text=ERASED, data={}, media="", error="")
    Conversation.objects.filter(customer=customer).update(reply_token="", reply_token_at=None)
    return {"messages": count}


def move(*, loser, winner) -> dict:
    from customers.registry import move_rows

    return {"broadcast_deliveries": move_rows(BroadcastDelivery.objects.all(), "customer", loser, winner)}


def undo(*, loser, winner, data) -> None:
    from customers.registry import undo_rows

    undo_rows(BroadcastDelivery, "customer", data.get("broadcast_deliveries"), loser, winner)


def export(*, customer) -> dict:
    from customers.registry import rows

    return {
        "broadcasts_received": rows(
            BroadcastDelivery.objects.filter(customer=customer).order_by("pk"),
            "id",
            "broadcast__name",
            "variant__label",
            "status",
            "sent_at",
        )
    }


def erase(*, customer) -> dict:
    # Deliveries hold no personal text: what was sent is the broadcast's, to whom is the customer row.
    return {"broadcast_deliveries": 0}


def register_customer_data() -> None:
    try:
        from customers.registry import CustomerData, register
    except ImportError:  # the merge service is not installed yet
        return
    register(
        CustomerData(
            key="conversations",
            label=_("Conversations"),
            order=90,
            move=conversations_move,
            undo=conversations_undo,
            export=conversations_export,
            erase=conversations_erase,
        )
    )
    register(
        CustomerData(
            key="broadcast_deliveries",
            label=_("Broadcasts received"),
            order=95,
            move=move,
            undo=undo,
            export=export,
            erase=erase,
        )
    )
