"""Who gets a ticket: by hand, or by the team's rule (round robin or least busy), preferring agents
whose call-centre presence is Available and falling back to every active member when nobody is."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.models import AgentStatus

from ..locks import lock_assignment_rule, lock_ticket
from ..models import AssignmentRule, Ticket
from ..selectors import tickets_visible_to
from .timeline import assignee_tell, ticket_record


def assignable_users(team=None) -> QuerySet:
    """Active users who may work tickets, optionally of one team."""
    permission = Permission.objects.filter(content_type__app_label="tickets", codename="change_ticket")
    holders = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__permissions__in=permission) | Q(user_permissions__in=permission)
    )
    users = get_user_model().objects.filter(is_active=True, pk__in=holders.values("pk"))
    if team is not None:
        users = users.filter(team=team)
    return users.order_by("pk")


@dataclass(frozen=True)
class Choice:
    user: object
    strategy: str
    pool: str  # "available" or "all"
    candidates: int


POOL_AVAILABLE = "available"
POOL_ALL = "all"


def assignee_pick(*, team) -> Choice:
    """The agent the team's rule chooses now, and how. Locks the rule: call inside a transaction."""
    rule = lock_assignment_rule(team.pk)
    if rule is None:
        raise ValidationError(
            {"team": _("The team %(team)s has no assignment rule; an admin can add one.") % {"team": team}}
        )
    members = list(assignable_users(team))
    if not members:
        raise ValidationError({"team": _("Nobody in %(team)s can take tickets.") % {"team": team}})
    pool, pool_name = members, POOL_ALL
    if rule.available_only:
        available = set(
            AgentStatus.objects.filter(
                user_id__in=[m.pk for m in members], status=AgentStatus.Status.AVAILABLE
            ).values_list("user_id", flat=True)
        )
        if available:
            pool, pool_name = [m for m in members if m.pk in available], POOL_AVAILABLE
    if rule.strategy == AssignmentRule.Strategy.LEAST_BUSY:
        loads = dict(
            Ticket.objects.filter(assignee_id__in=[m.pk for m in pool], status__in=Ticket.UNRESOLVED)
            .values("assignee_id")
            .annotate(open=Count("id"))
            .values_list("assignee_id", "open")
        )
        fewest = min(loads.get(m.pk, 0) for m in pool)
        pool = [m for m in pool if loads.get(m.pk, 0) == fewest]
    # Round robin, and among the least busy a tie goes round too: the next after the last one chosen.
    after = [m for m in pool if rule.last_assignee_id is not None and m.pk > rule.last_assignee_id]
    chosen = after[0] if after else pool[0]
    rule.last_assignee = chosen
    rule.save(update_fields=["last_assignee"])
    return Choice(user=chosen, strategy=rule.strategy, pool=pool_name, candidates=len(pool))


def check_can_assign(actor, ticket: Ticket, *, assignee=None, auto=False) -> None:
    """Anyone who may change a ticket may take it; giving it to someone else needs tickets.assign_ticket."""
    if actor is None:
        return
    if (
        not actor.has_perm("tickets.change_ticket")
        or not tickets_visible_to(actor).filter(pk=ticket.pk).exists()
    ):
        raise PermissionDenied(_("You may not change this ticket."))
    taking = not auto and assignee is not None and assignee.pk == actor.pk
    if not taking and not actor.has_perm("tickets.assign_ticket"):
        raise PermissionDenied(_("You may only assign tickets to yourself."))


def check_assignee(assignee) -> None:
    if assignee is not None and not assignable_users().filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": _("%(user)s cannot take tickets.") % {"user": assignee}})


@transaction.atomic
def ticket_assign(
    *,
    ticket: Ticket,
    actor,
    assignee=None,
    team=None,
    auto: bool = False,
    via: str | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """Give the ticket to `assignee`, or with `auto` to whom `team`'s rule picks (the ticket's team by
    default); with neither, the ticket goes back to the team's queue. Written on the timeline with the rule."""
    check_can_assign(actor, ticket, assignee=assignee, auto=auto)
    now = now or timezone.now()
    ticket = lock_ticket(ticket.pk)
    if team is not None:
        ticket.team = team
    data = {}
    if auto:
        if ticket.team_id is None:
            raise ValidationError({"team": _("Choose a team to assign within.")})
        choice = assignee_pick(team=ticket.team)
        assignee = choice.user
        via = via or choice.strategy
        data = {"rule": choice.strategy, "pool": choice.pool, "candidates": choice.candidates}
    else:
        check_assignee(assignee)
    assignment_set(ticket, assignee=assignee, via=via or Ticket.AssignedVia.MANUAL, now=now)
    ticket.version += 1
    ticket.save()
    assignment_record(ticket, actor=actor, data=data)
    return ticket


def assignment_set(ticket: Ticket, *, assignee, via: str, now) -> None:
    ticket.assignee = assignee
    ticket.assigned_via = via if assignee is not None else ""
    ticket.assigned_at = now if assignee is not None else None
    if assignee is not None and ticket.team_id is None and assignee.team_id is not None:
        ticket.team_id = assignee.team_id


def auto_assign_on_create(ticket: Ticket) -> dict:
    """A new ticket without an assignee goes to whom its team's rule picks, when the team wants that."""
    if ticket.assignee_id is not None or ticket.team_id is None:
        return {}
    if not AssignmentRule.objects.filter(team_id=ticket.team_id, active=True, auto_assign=True).exists():
        return {}
    try:
        with transaction.atomic():
            choice = assignee_pick(team=ticket.team)
    except ValidationError:
        return {}  # nobody to give it to: it waits in the team's queue
    assignment_set(ticket, assignee=choice.user, via=choice.strategy, now=ticket.created_at)
    return {"rule": choice.strategy, "pool": choice.pool, "candidates": choice.candidates}


def assignment_record(ticket: Ticket, *, actor, data: dict) -> None:
    if ticket.assignee_id is None:
        summary = _("Ticket #%(number)s returned to the %(team)s queue") % {
            "number": ticket.number,
            "team": ticket.team or "—",
        }
    else:
        summary = _("Ticket #%(number)s assigned to %(user)s (%(how)s)") % {
            "number": ticket.number,
            "user": ticket.assignee,
            "how": ticket.get_assigned_via_display(),
        }
    ticket_record(
        ticket,
        actor=actor,
        summary=summary,
        event="assigned",
        assignee=ticket.assignee_id,
        team=ticket.team_id,
        via=ticket.assigned_via,
        **data,
    )
    if not data.get("bulk"):  # a bulk assignment would send one e-mail per ticket
        assignee_tell(ticket, actor=actor)
