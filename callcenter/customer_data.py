"""Calls and call-list entries in merges and data-subject requests (see customers.registry)."""

from django.utils.translation import gettext_lazy as _

from customers.registry import CustomerData, move_rows, register, rows, undo_rows

from .models import Call, CallListEntry


def move(*, loser, winner) -> dict:
    # A list holds a customer once: where the winner is already on the list, the loser's entry stays.
    lists_with_winner = CallListEntry.objects.filter(customer=winner).values("call_list_id")
    entries = move_rows(
        CallListEntry.objects.exclude(call_list_id__in=lists_with_winner), "customer", loser, winner
    )
    return {"calls": move_rows(Call.objects.all(), "customer", loser, winner), "call_list_entries": entries}


def undo(*, loser, winner, data) -> None:
    undo_rows(Call, "customer", data.get("calls"), loser, winner)
    undo_rows(CallListEntry, "customer", data.get("call_list_entries"), loser, winner)


def export(*, customer) -> dict:
    return {
        "calls": rows(
            Call.objects.filter(customer=customer).order_by("pk"),
            "id",
            "direction",
            "from_number",
            "to_number",
            "state",
            "ringing_at",
            "answered_at",
            "ended_at",
            "talk_seconds",
            "agent__username",
            "disposition__name",
            "notes",
        )
    }


def erase(*, customer) -> dict:
    """Durations, times and outcomes stay for the call-centre figures; numbers and notes go."""
    calls = Call.objects.filter(customer=customer).update(
        from_raw="", from_number="", to_raw="", to_number="", notes="", recording_url="", candidates=[]
    )
    entries = CallListEntry.objects.filter(customer=customer).update(note="")
    return {"calls": calls, "call_list_entries": entries}


def register_customer_data() -> None:
    register(
        CustomerData(
            key="calls", label=_("Calls"), order=80, move=move, undo=undo, export=export, erase=erase
        )
    )
