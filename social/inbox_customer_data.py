"""Broadcast deliveries in merges and data-subject requests (see customers.registry, when installed)."""

from django.utils.translation import gettext_lazy as _

from .models import BroadcastDelivery


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
            key="broadcast_deliveries",
            label=_("Broadcasts received"),
            order=95,
            move=move,
            undo=undo,
            export=export,
            erase=erase,
        )
    )
