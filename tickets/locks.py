"""Row locks for concurrent ticket writes (merge, assignment, the SLA clock): always taken here, by pk."""

from django.db import transaction

from .models import AssignmentRule, Ticket


def _no_key() -> bool:
    # Ticket rows are referenced by comments and attachments; FOR NO KEY UPDATE lets those inserts
    # proceed while the ticket is locked.
    return transaction.get_connection().features.has_select_for_no_key_update


def lock_ticket(pk: int) -> Ticket:
    return Ticket.objects.select_for_update(no_key=_no_key()).get(pk=pk)


def lock_tickets(pks) -> dict[int, Ticket]:
    """Several tickets locked in pk order, so two writers locking overlapping sets cannot deadlock."""
    rows = Ticket.objects.select_for_update(no_key=_no_key()).filter(pk__in=sorted(set(pks))).order_by("pk")
    return {ticket.pk: ticket for ticket in rows}


def lock_assignment_rule(team_id: int) -> AssignmentRule | None:
    return AssignmentRule.objects.select_for_update().filter(team_id=team_id, active=True).first()
