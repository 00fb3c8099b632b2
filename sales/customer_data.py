"""Deals and follow-up tasks in merges and data-subject requests (see customers.registry)."""

from django.utils.translation import gettext_lazy as _

from customers.registry import ERASED, CustomerData, move_rows, register, rows, undo_rows

from .models import Deal, Task


def move(*, loser, winner) -> dict:
    return {
        "deals": move_rows(Deal.objects.all(), "customer", loser, winner),
        "organisation_deals": move_rows(Deal.objects.all(), "organisation", loser, winner),
        "tasks": move_rows(Task.objects.all(), "customer", loser, winner),
    }


def undo(*, loser, winner, data) -> None:
    undo_rows(Deal, "customer", data.get("deals"), loser, winner)
    undo_rows(Deal, "organisation", data.get("organisation_deals"), loser, winner)
    undo_rows(Task, "customer", data.get("tasks"), loser, winner)


def export(*, customer) -> dict:
    return {
        "deals": rows(
            Deal.objects.filter(customer=customer).order_by("pk"),
            "id",
            "title",
            "amount",
            "currency",
            "status",
            "pipeline__name",
            "stage__name",
            "expected_close_date",
            "owner__username",
            "source",
            "lost_note",
            "created_at",
            "closed_at",
        ),
        "tasks": rows(
            Task.objects.filter(customer=customer).order_by("pk"), "id", "title", "note", "due_at", "deal_id"
        ),
    }


def erase(*, customer) -> dict:
    """Amounts, stages and dates stay for the figures; titles and notes may name the person."""
    deals = Deal.objects.filter(customer=customer).update(title=ERASED, lost_note="", source="")
    tasks = Task.objects.filter(customer=customer).update(title=ERASED, note="")
    return {"deals": deals, "tasks": tasks}


def register_customer_data() -> None:
    register(
        CustomerData(
            key="sales", label=_("Deals"), order=60, move=move, undo=undo, export=export, erase=erase
        )
    )
