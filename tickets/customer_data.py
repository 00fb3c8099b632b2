"""Tickets in merges and data-subject requests (see customers.registry)."""

from django.utils.translation import gettext_lazy as _

from customers.registry import ERASED, CustomerData, register, rows, undo_rows

from .models import Ticket, TicketComment
from .services import tickets_move_customer


def move(*, loser, winner) -> dict:
    # The customers are locked by the merge, so no ticket can be opened for the loser in between.
    ids = list(Ticket.objects.filter(customer=loser).order_by("pk").values_list("pk", flat=True))
    tickets_move_customer(source=loser, target=winner)
    return {"tickets": ids}


def undo(*, loser, winner, data) -> None:
    undo_rows(Ticket, "customer", data.get("tickets"), loser, winner)


def export(*, customer) -> dict:
    tickets = Ticket.objects.filter(customer=customer)
    return {
        "tickets": rows(
            tickets.order_by("pk"),
            "id",
            "number",
            "subject",
            "description",
            "status",
            "priority",
            "category__name",
            "assignee__username",
            "created_at",
            "solved_at",
            "closed_at",
        ),
        "ticket_comments": rows(
            TicketComment.objects.filter(ticket__in=tickets, internal=False).order_by("pk"),
            "id",
            "ticket_id",
            "body",
            "created_at",
        ),
    }


def erase(*, customer) -> dict:
    tickets = Ticket.objects.filter(customer=customer)
    comments = TicketComment.objects.filter(ticket__in=tickets).update(body=ERASED)
    count = tickets.update(subject=ERASED, description="", custom_fields={})
    return {"tickets": count, "ticket_comments": comments}


def register_customer_data() -> None:
    register(
        CustomerData(
            key="tickets", label=_("Tickets"), order=70, move=move, undo=undo, export=export, erase=erase
        )
    )
