"""SLA clocks: deadlines from the policy, pausing while pending on the customer, and the sweep that
records warnings and breaches and runs the escalation levels.

Deadlines are always derived from the creation time: due = created + target + paused business time.
So a change of priority or category, or a pause ending, recomputes them the same way.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
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
SWEEP_BATCH = 500


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
    ticket.sla_due = min((due for _target, _warn, due in targets), default=None)
    if ticket.sla_paused_at is not None:
        ticket.sla_state, ticket.sla_check_at = Ticket.SlaState.PAUSED, None
        return
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
    tickets = list(
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("assignee")
        .filter(sla_check_at__lte=now)
        .order_by("sla_check_at", "pk")[:batch_size]
    )
    if not tickets:
        return 0
    ids = [ticket.pk for ticket in tickets]
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
            fired_events=fired_events,
            fired_rules=fired_rules,
            new_events=new_events,
            new_escalations=new_escalations,
            reassignments=reassignments,
        )
    SlaEvent.objects.bulk_create(new_events)
    created = Escalation.objects.bulk_create(new_escalations)
    Ticket.objects.bulk_update(tickets, SWEEP_FIELDS)
    for ticket, rule in reassignments:
        _reassign(ticket, rule, now=now)
    result.tickets += len(tickets)
    result.warnings += sum(1 for event in new_events if event.kind == WARNING)
    result.breaches += sum(1 for event in new_events if event.kind == BREACH)
    result.escalations += len(created)
    notify = [e.pk for e in created if e.notified_id is not None and e.pk is not None]
    result.escalation_ids.extend(notify)
    return len(tickets)


SWEEP_FIELDS = [
    "priority",
    "sla_policy",
    "first_response_due",
    "first_response_warn_at",
    "resolution_due",
    "resolution_warn_at",
    "sla_state",
    "sla_due",
    "sla_check_at",
    "version",
]


def _sweep_ticket(
    ticket,
    *,
    now,
    config,
    rules,
    managers,
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
                if (ticket.pk, target, kind) not in fired_events:
                    fired_events.add((ticket.pk, target, kind))
                    new_events.append(
                        SlaEvent(ticket=ticket, target=target, kind=kind, due_at=due, occurred_at=now)
                    )
                if kind == WARNING and due <= now:
                    continue  # already missed: the warning levels have nothing left to prevent
                for rule in _rules_for(rules, ticket=ticket, kind=kind, target=target):
                    if (ticket.pk, rule.pk, target) in fired_rules:
                        continue
                    fire_at = at + dt.timedelta(minutes=rule.delay_minutes)
                    if fire_at > now:
                        moments.append(fire_at)
                        continue
                    fired_rules.add((ticket.pk, rule.pk, target))
                    escalation = _escalate(ticket, rule, target=target, now=now, managers=managers)
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


def _escalate(ticket, rule, *, target, now, managers) -> Escalation:
    notified = None
    if rule.action == EscalationRule.Action.NOTIFY_ASSIGNEE:
        notified = ticket.assignee_id or managers.get(ticket.team_id)
    elif rule.action == EscalationRule.Action.NOTIFY_MANAGER:
        notified = managers.get(ticket.team_id)
        if notified is None and ticket.assignee is not None:
            notified = managers.get(ticket.assignee.team_id)
    return Escalation(
        ticket=ticket,
        rule=rule,
        target=target,
        level=rule.level,
        action=rule.action,
        notified_id=notified,
        fired_at=now,
    )


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
