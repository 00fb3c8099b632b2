"""Tickets on the customer's timeline, through customers.services.record_interaction."""

from customers.models import Customer, Interaction
from customers.services import record_interaction

from ..models import Ticket


def customer_of(ticket: Ticket) -> Customer:
    """The ticket's customer for a timeline entry, without loading the row when it is not at hand."""
    return ticket.customer if Ticket.customer.is_cached(ticket) else Customer(pk=ticket.customer_id)


def followers_tell(ticket: Ticket, *, actor, event: str, text: str = "", status: str = "") -> None:
    """After the write commits, e-mail the ticket's followers (tasks.followers_notify)."""
    from django.db import transaction

    from ..tasks import followers_notify

    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    transaction.on_commit(
        lambda: followers_notify.delay(
            ticket_id=ticket.pk, actor_id=actor_id, event=event, text=text[:2000], status=status
        )
    )


def assignee_tell(ticket: Ticket, *, actor) -> None:
    """After the write commits, e-mail the new assignee (unless they assigned it to themselves)."""
    from django.db import transaction

    from ..tasks import assignee_notify

    if ticket.assignee_id is None or (actor is not None and ticket.assignee_id == actor.pk):
        return
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    assignee_id = ticket.assignee_id
    transaction.on_commit(
        lambda: assignee_notify.delay(ticket_id=ticket.pk, assignee_id=assignee_id, actor_id=actor_id)
    )


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
