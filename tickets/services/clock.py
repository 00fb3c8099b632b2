"""SLA clocks: deadlines from the policy, pausing while pending on the customer, and the sweep that
records warnings and breaches and runs the escalation levels.

Deadlines are always derived from the creation time: due = created + target + paused business time.
So a change of priority or category, or a pause ending, recomputes them the same way.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Team

from .. import sla
from ..models import PRIORITY_ORDER, Escalation, EscalationRule, SlaEvent, Ticket
from ..selectors import SlaConfig, sla_config

logger = logging.getLogger(__name__)

FIRST_RESPONSE = SlaEvent.Target.FIRST_RESPONSE
RESOLUTION = SlaEvent.Target.RESOLUTION
WARNING = SlaEvent.Kind.WARNING
BREACH = SlaEvent.Kind.BREACH
SWEEP_BATCH = 1000


def sla_apply(ticket: Ticket, *, config: SlaConfig, now: dt.datetime) -> None:
    """Choose the policy and set the deadlines and SLA state. Changes the instance only; callers save."""
    policy = config.policy_for(priority=ticket.priority, category_id=ticket.category_id)
    ticket.sla_policy = policy
    if policy is None:
        ticket.first_response_due = ticket.first_response_warn_at = None
        ticket.resolution_due = ticket.resolution_warn_at = None
    else:
        schedule = config.schedule_for(policy)
        warn_before = policy.warning_minutes * 60
        for target, minutes in (
            (FIRST_RESPONSE, policy.first_response_minutes),
            (RESOLUTION, policy.resolution_minutes),
        ):
            seconds = minutes * 60
            due = sla.add_business_time(ticket.created_at, seconds + ticket.sla_paused_seconds, schedule)
            warn_at = sla.add_business_time(
                ticket.created_at, max(0, seconds - warn_before) + ticket.sla_paused_seconds, schedule
            )
            setattr(ticket, f"{target}_due", due)
            setattr(ticket, f"{target}_warn_at", warn_at)
    sla_refresh(ticket, now=now)


def sla_pause(ticket: Ticket, *, now: dt.datetime) -> None:
    """Pending on the customer: the clocks stop until the ticket leaves that status."""
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    sla_refresh(ticket, now=now)


def sla_resume(ticket: Ticket, *, config: SlaConfig, now: dt.datetime) -> None:
    """The customer answered (or an agent moved the ticket on): add the paused business time."""
    if ticket.sla_paused_at is not None:
        schedule = config.schedule_for(ticket.sla_policy)
        ticket.sla_paused_seconds += sla.business_seconds_between(ticket.sla_paused_at, now, schedule)
        ticket.sla_paused_at = None
    sla_apply(ticket, config=config, now=now)


def _open_targets(ticket: Ticket) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """(target, warn_at, due) of the targets still to be met."""
    targets = []
    if ticket.first_responded_at is None and ticket.first_response_due is not None:
        targets.append((FIRST_RESPONSE, ticket.first_response_warn_at, ticket.first_response_due))
    if ticket.solved_at is None and ticket.closed_at is None and ticket.resolution_due is not None:
        targets.append((RESOLUTION, ticket.resolution_warn_at, ticket.resolution_due))
    return targets


def _missed_when_met(ticket: Ticket) -> bool:
    """Whether a target already met was met late."""
    responded, due = ticket.first_responded_at, ticket.first_response_due
    if responded is not None and due is not None and responded > due:
        return True
    resolved = ticket.solved_at or ticket.closed_at
    return resolved is not None and ticket.resolution_due is not None and resolved > ticket.resolution_due


def sla_refresh(ticket: Ticket, *, now: dt.datetime) -> None:
    """State, next deadline and next check from the deadlines alone (no query).

    A moment already passed sets the next check to now: the sweep then records what happened and fires
    the escalation levels, each once.
    """
    if ticket.sla_policy_id is None and ticket.sla_policy is None:
        ticket.sla_state, ticket.sla_due, ticket.sla_check_at = Ticket.SlaState.NONE, None, None
        return
    targets = _open_targets(ticket) if ticket.is_unresolved else []
    late = _missed_when_met(ticket) or any(due <= now for _target, _warn, due in targets)
    if not ticket.is_unresolved:
        ticket.sla_state = Ticket.SlaState.BREACHED if late else Ticket.SlaState.MET
        ticket.sla_due = ticket.sla_check_at = None
        return
    if ticket.sla_paused_at is not None:
        # No deadline runs while the clock is stopped, so paused tickets sort after those that are due.
        ticket.sla_state, ticket.sla_due, ticket.sla_check_at = Ticket.SlaState.PAUSED, None, None
        return
    ticket.sla_due = min((due for _target, _warn, due in targets), default=None)
    if late:
        ticket.sla_state = Ticket.SlaState.BREACHED
    elif any(warn_at <= now for _target, warn_at, _due in targets):
        ticket.sla_state = Ticket.SlaState.WARNING
    else:
        ticket.sla_state = Ticket.SlaState.OK if targets else Ticket.SlaState.MET
    moments = [moment for _target, warn_at, due in targets for moment in (warn_at, due)]
    ticket.sla_check_at = max(now, min(moments)) if moments else None


# The sweep ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    tickets: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    batches: int = 0
    escalation_ids: list[int] = field(default_factory=list)


def sla_sweep(
    *, now: dt.datetime | None = None, batch_size: int = SWEEP_BATCH, max_batches: int = 1000
) -> SweepResult:
    """Record warnings and breaches that are due and run the escalation levels, each once.

    Works through the tickets whose next check has come, in bounded batches of locked rows (one
    transaction each; rows another sweep holds are skipped). Every ticket processed gets a later next
    check or none, so the loop ends; running it again at once finds nothing to do.
    """
    now = now or timezone.now()
    config = sla_config()
    rules = list(EscalationRule.objects.filter(active=True).order_by("level", "id"))
    managers = dict(Team.objects.values_list("id", "manager_id"))
    result = SweepResult()
    for _batch in range(max_batches):
        processed = _sweep_batch(
            now=now, batch_size=batch_size, config=config, rules=rules, managers=managers, result=result
        )
        if not processed:
            break
        result.batches += 1
    if result.escalation_ids:
        from ..tasks import escalations_notify

        ids = list(result.escalation_ids)
        transaction.on_commit(lambda: escalations_notify.delay(escalation_ids=ids))
    return result


@transaction.atomic
def _sweep_batch(*, now, batch_size, config, rules, managers, result) -> int:
    if connection.vendor == "postgresql":
        # Each batch is redone by the next sweep if a crash loses it (the writes are idempotent), so it
        # need not wait for its WAL to reach the disk: that wait was a tenth of the sweep.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
    tickets = list(
        Ticket.objects.select_for_update(skip_locked=True)
        .filter(sla_check_at__lte=now)
        .only(*SWEEP_READS)
        # Not by pk as well: with many equal check times that sorts them all for every batch. Rows
        # another sweep holds are skipped, not waited for, so the lock order cannot deadlock.
        .order_by("sla_check_at")[:batch_size]
    )
    if not tickets:
        return 0
    ids = [ticket.pk for ticket in tickets]
    # A ticket outside any team escalates to the manager of its assignee's team.
    teamless = {ticket.assignee_id for ticket in tickets if ticket.team_id is None and ticket.assignee_id}
    assignee_teams = (
        dict(get_user_model().objects.filter(pk__in=teamless).values_list("pk", "team_id"))
        if teamless
        else {}
    )
    fired_events = set(SlaEvent.objects.filter(ticket_id__in=ids).values_list("ticket_id", "target", "kind"))
    fired_rules = set(
        Escalation.objects.filter(ticket_id__in=ids).values_list("ticket_id", "rule_id", "target")
    )
    new_events, new_escalations, reassignments = [], [], []
    for ticket in tickets:
        _sweep_ticket(
            ticket,
            now=now,
            config=config,
            rules=rules,
            managers=managers,
            assignee_teams=assignee_teams,
            fired_events=fired_events,
            fired_rules=fired_rules,
            new_events=new_events,
            new_escalations=new_escalations,
            reassignments=reassignments,
        )
    _insert(SlaEvent, EVENT_COLUMNS, new_events)
    created = _insert(Escalation, ESCALATION_COLUMNS, new_escalations, returning=("id", "notified_id"))
    _write_back(tickets)
    for ticket, rule in reassignments:
        _reassign(ticket, rule, now=now)
    result.tickets += len(tickets)
    result.warnings += sum(1 for event in new_events if event[2] == WARNING)
    result.breaches += sum(1 for event in new_events if event[2] == BREACH)
    result.escalations += len(created)
    result.escalation_ids.extend(pk for pk, notified in created if notified is not None)
    return len(tickets)


# What the sweep reads of a ticket, and what it changes with the PostgreSQL type of each column.
# Not the creation time: only a raised priority needs it, and loads it then. Not the SLA state, next
# deadline or next check either: the sweep sets all three on every ticket it reads.
SWEEP_READS = [
    "id",
    "status",
    "priority",
    "category_id",
    "team_id",
    "assignee_id",
    "first_responded_at",
    "solved_at",
    "closed_at",
    "sla_policy_id",
    "first_response_due",
    "first_response_warn_at",
    "resolution_due",
    "resolution_warn_at",
    "sla_paused_at",
    "sla_paused_seconds",
    "version",
]
EVENT_COLUMNS = {
    "ticket_id": "bigint",
    "target": "text",
    "kind": "text",
    "due_at": "timestamptz",
    "occurred_at": "timestamptz",
}
ESCALATION_COLUMNS = {
    "ticket_id": "bigint",
    "rule_id": "bigint",
    "target": "text",
    "level": "smallint",
    "action": "text",
    "notified_id": "bigint",
    "fired_at": "timestamptz",
}
SWEEP_FIELDS = {
    "priority": "text",
    "sla_policy": "bigint",
    "first_response_due": "timestamptz",
    "first_response_warn_at": "timestamptz",
    "resolution_due": "timestamptz",
    "resolution_warn_at": "timestamptz",
    "sla_state": "text",
    "sla_due": "timestamptz",
    "sla_check_at": "timestamptz",
    "version": "integer",
}


def _insert(
    model, columns: dict[str, str], rows: list[tuple], *, returning: tuple[str, ...] = ()
) -> list[tuple]:
    """Insert rows given as tuples in `columns` order. On PostgreSQL one INSERT of arrays, which costs a
    fraction of bulk_create's per-value preparation; elsewhere bulk_create."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return [tuple(getattr(obj, name) for name in returning) for obj in created]
    names = ", ".join(f'"{model._meta.get_field(name).column}"' for name in columns)
    casts = ", ".join(f"%s::{kind}[]" for kind in columns.values())
    sql = f'INSERT INTO "{model._meta.db_table}" ({names}) SELECT * FROM unnest({casts})'  # noqa: S608 - names from the model
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, [_array_literal(values) for values in zip(*rows, strict=True)])
        return cursor.fetchall() if returning else []


def _array_literal(values) -> str:
    """A PostgreSQL array literal ('{"a","b",NULL}') built by joining strings: psycopg's own list
    adaptation quotes element by element and took longer than the statements it sent."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif isinstance(value, dt.datetime):
            items.append(f'"{value.isoformat()}"')
        elif isinstance(value, int):
            items.append(str(value))
        else:
            items.append('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


def _write_back(tickets: list[Ticket]) -> None:
    """Save a batch in one statement. bulk_update builds a CASE per row and field, which costs more
    Python time than the whole sweep otherwise; on PostgreSQL one UPDATE joins arrays of new values."""
    if connection.vendor != "postgresql":
        Ticket.objects.bulk_update(tickets, list(SWEEP_FIELDS))
        return
    fields = [Ticket._meta.get_field(name) for name in SWEEP_FIELDS]
    columns = [field.column for field in fields]
    arrays = [[getattr(ticket, field.attname) for ticket in tickets] for field in fields]
    casts = ", ".join(f"%s::{kind}[]" for kind in SWEEP_FIELDS.values())
    assignments = ", ".join(f'"{column}" = v."{column}"' for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" AS t SET {assignments} '  # noqa: S608 - names come from the model, values are parameters
            f"FROM unnest(%s::bigint[], {casts}) AS v(id, {names}) WHERE t.id = v.id",
            [_array_literal(ticket.pk for ticket in tickets), *(_array_literal(values) for values in arrays)],
        )


def _sweep_ticket(
    ticket,
    *,
    now,
    config,
    rules,
    managers,
    assignee_teams,
    fired_events,
    fired_rules,
    new_events,
    new_escalations,
    reassignments,
):
    if not ticket.is_unresolved or ticket.sla_paused_at is not None:
        sla_refresh(ticket, now=now)
        return
    for _round in range(len(PRIORITY_ORDER)):  # a raised priority may bring a stricter policy: look again
        raised = False
        moments = []
        for target, warn_at, due in _open_targets(ticket):
            for kind, at in ((WARNING, warn_at), (BREACH, due)):
                if at > now:
                    moments.append(at)
                    continue
                if kind == WARNING and due <= now:
                    # Found only after the deadline (the sweep was late): the breach says it all, and the
                    # warning levels have nothing left to prevent.
                    continue
                if (ticket.pk, target, kind) not in fired_events:
                    fired_events.add((ticket.pk, target, kind))
                    new_events.append((ticket.pk, target, kind, due, now))
                for rule in _rules_for(rules, ticket=ticket, kind=kind, target=target):
                    if (ticket.pk, rule.pk, target) in fired_rules:
                        continue
                    fire_at = at + dt.timedelta(minutes=rule.delay_minutes)
                    if fire_at > now:
                        moments.append(fire_at)
                        continue
                    fired_rules.add((ticket.pk, rule.pk, target))
                    escalation = _escalate(
                        ticket, rule, target=target, now=now, managers=managers, assignee_teams=assignee_teams
                    )
                    new_escalations.append(escalation)
                    if rule.action == EscalationRule.Action.RAISE_PRIORITY:
                        raised = raised or _raise_priority(ticket)
                    elif rule.action == EscalationRule.Action.REASSIGN:
                        reassignments.append((ticket, rule))
        if raised:
            ticket.version += 1
            sla_apply(ticket, config=config, now=now)
            continue
        sla_refresh(ticket, now=now)
        ticket.sla_check_at = min(moments) if moments else None
        return


def _rules_for(rules, *, ticket, kind, target):
    for rule in rules:
        if rule.trigger != kind or (rule.policy_id is not None and rule.policy_id != ticket.sla_policy_id):
            continue
        if rule.target in (EscalationRule.Target.ANY, target):
            yield rule


def _escalate(ticket, rule, *, target, now, managers, assignee_teams) -> tuple:
    """The Escalation row, as a tuple in ESCALATION_COLUMNS order."""
    manager = managers.get(ticket.team_id) or managers.get(assignee_teams.get(ticket.assignee_id))
    notified = None
    if rule.action == EscalationRule.Action.NOTIFY_ASSIGNEE:
        notified = ticket.assignee_id or manager
    elif rule.action == EscalationRule.Action.NOTIFY_MANAGER:
        notified = manager
    return (ticket.pk, rule.pk, target, rule.level, rule.action, notified, now)


def _raise_priority(ticket) -> bool:
    position = PRIORITY_ORDER.index(ticket.priority) if ticket.priority in PRIORITY_ORDER else 1
    if position + 1 >= len(PRIORITY_ORDER):
        return False
    ticket.priority = PRIORITY_ORDER[position + 1]
    return True


def _reassign(ticket, rule, *, now):
    from .assignment import ticket_assign

    try:
        with transaction.atomic():
            if rule.assign_to_id is not None:
                ticket_assign(
                    ticket=ticket,
                    actor=None,
                    assignee=rule.assign_to,
                    via=Ticket.AssignedVia.ESCALATION,
                    now=now,
                )
            elif rule.assign_team_id is not None:
                ticket_assign(
                    ticket=ticket,
                    actor=None,
                    team=rule.assign_team,
                    auto=True,
                    via=Ticket.AssignedVia.ESCALATION,
                    now=now,
                )
    except Exception:  # noqa: BLE001 - one ticket that cannot be reassigned must not stop the sweep
        logger.exception("Escalation rule %s could not reassign ticket %s", rule.pk, ticket.pk)
