"""Tickets on the customer's timeline, through customers.services.record_interaction."""

from customers.models import Customer, Interaction
from customers.services import record_interaction

from ..models import Ticket


def customer_of(ticket: Ticket) -> Customer:
    """The ticket's customer for a timeline entry, without loading the row when it is not at hand."""
    return ticket.customer if Ticket.customer.is_cached(ticket) else Customer(pk=ticket.customer_id)


def ticket_record(
    ticket: Ticket, *, actor, summary: str, event: str, channel=Interaction.Channel.CRM, **data
):
    return record_interaction(
        customer=customer_of(ticket),
        kind=Interaction.Kind.TICKET,
        channel=channel,
        summary=summary,
        actor=actor,
        subject=ticket,
        data={"ticket": ticket.number, "event": event, **data},
    )
