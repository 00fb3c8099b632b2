"""Follow-up tasks: create, update, take, complete (with cadences), delete; the follow-up hook."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import followups
from customers.models import Customer, Interaction
from customers.services import record_interaction

from .. import selectors
from ..models import Cadence, Deal, Task
from .access import _check_customer_visible, _check_task_access

AFTER_SALE_DAYS = 30


# Tasks -----------------------------------------------------------------------------------------

_UNSET = object()


def _task_subject(task: Task):
    return task.deal or task


@transaction.atomic
def task_create(
    *,
    actor,
    title: str,
    due_at: dt.datetime,
    assignee=None,
    team=None,
    customer: Customer | None = None,
    deal: Deal | None = None,
    source=None,
    priority: int = Task.Priority.NORMAL,
    note: str = "",
    cadence: Cadence | None = None,
    remind_at=_UNSET,
    data: dict | None = None,
    attempt: int = 1,
    previous: Task | None = None,
    check_access: bool = True,
) -> Task:
    """A follow-up task; its creation goes on the customer's timeline (with `data`, e.g. the call id).

    check_access=False when another app asks on the actor's behalf and has checked access itself.
    """
    checked_actor = actor if check_access else None
    if checked_actor is not None and not actor.has_perm("sales.add_task"):
        raise PermissionDenied(_("You may not create tasks."))
    if deal is not None:
        if checked_actor is not None and not selectors.deals_visible_to(actor).filter(pk=deal.pk).exists():
            raise PermissionDenied(_("You do not have access to this deal."))
        customer = customer or deal.customer
    if customer is not None:
        _check_customer_visible(checked_actor, customer)
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("Enter what is to be done.")
    if due_at is None:
        errors["due_at"] = _("Enter when it is due.")
    if priority not in Task.Priority.values:
        errors["priority"] = _("Choose a priority from the list.")
    if len(note or "") > 5000:
        errors["note"] = _("A note can be at most 5000 characters.")
    if errors:
        raise ValidationError(errors)
    if assignee is None and team is None and actor is not None and actor.is_authenticated:
        assignee = actor
    if team is None and assignee is not None:
        team = assignee.team
    task = Task.objects.create(
        title=title[:200],
        note=(note or "").strip(),
        due_at=due_at,
        remind_at=due_at if remind_at is _UNSET else remind_at,
        assignee=assignee,
        team=team,
        customer=customer,
        deal=deal,
        source_type=ContentType.objects.get_for_model(source) if source is not None else None,
        source_id=source.pk if source is not None else None,
        priority=priority,
        cadence=cadence,
        attempt=attempt,
        previous=previous,
        data=data or {},
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if customer is not None:
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.TASK,
            summary=_("Follow-up task: %(title)s") % {"title": task.title},
            actor=actor,
            subject=_task_subject(task),
            data={
                **(data or {}),
                "task": task.pk,
                "event": "created",
                "due_at": due_at.isoformat(),
                "assignee": assignee.pk if assignee else None,
                "team": team.pk if team else None,
            },
        )
    return task


@transaction.atomic
def task_update(*, task: Task, actor, **changes) -> Task:
    _check_task_access(actor, task, "sales.change_task")
    allowed = {"title", "due_at", "assignee", "priority", "note", "remind_at", "cadence"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"Unknown task fields: {sorted(unknown)}")
    if "title" in changes:
        changes["title"] = (changes["title"] or "").strip()
        if not changes["title"]:
            raise ValidationError({"title": _("Enter what is to be done.")})
    task = Task.objects.select_for_update().get(pk=task.pk)
    for name, value in changes.items():
        setattr(task, name, value)
    if "due_at" in changes or "remind_at" in changes:
        if "remind_at" not in changes and task.remind_at is not None:
            task.remind_at = task.due_at
        task.reminder_sent_at = None
    if "assignee" in changes and task.assignee is not None:
        task.team = task.assignee.team or task.team
    task.save()
    return task


@transaction.atomic
def task_take(*, task: Task, actor) -> Task:
    """An unassigned team task (a call-back after a missed call) becomes the actor's."""
    _check_task_access(actor, task, "sales.change_task")
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.assignee_id is not None and task.assignee_id != actor.pk:
        raise ValidationError({"assignee": _("Someone else has taken this task already.")})
    task.assignee = actor
    task.save(update_fields=["assignee", "updated_at"])
    return task


@dataclass
class Completion:
    task: Task
    next_task: Task | None = None
    already_done: bool = False


@transaction.atomic
def task_complete(
    *, task: Task, actor, outcome: str = Task.Outcome.DONE, note: str = "", now=None
) -> Completion:
    """Mark a task done (or "no answer"), write it on the timeline and schedule the cadence's next task.

    Completing a task twice changes nothing the second time.
    """
    _check_task_access(actor, task, "sales.change_task")
    if outcome not in Task.Outcome.values:
        raise ValidationError({"outcome": _("Choose done or no answer.")})
    now = now or timezone.now()
    Task.objects.select_for_update().filter(pk=task.pk).values_list("pk").get()
    task = Task.objects.select_related("customer", "deal", "cadence", "assignee").get(pk=task.pk)
    if task.done_at is not None:
        return Completion(task=task, next_task=getattr(task, "next_task", None), already_done=True)
    task.done_at = now
    task.done_by = actor if actor is not None and actor.is_authenticated else None
    task.outcome = outcome
    note = (note or "").strip()[:5000]
    if note:
        task.note = f"{task.note}\n\n{note}".strip() if task.note else note
    task.save()
    if task.deal_id:
        Deal.objects.filter(pk=task.deal_id).update(last_activity_at=now)
    if task.customer_id:
        summary = (
            _("Task done: %(title)s") if outcome == Task.Outcome.DONE else _("No answer: %(title)s")
        ) % {"title": task.title}
        record_interaction(
            customer=task.customer,
            kind=Interaction.Kind.TASK,
            summary=summary + (f" — {note.splitlines()[0]}" if note else ""),
            actor=actor,
            subject=_task_subject(task),
            occurred_at=now,
            data={"task": task.pk, "event": "completed", "outcome": outcome, "note": note},
        )
    return Completion(task=task, next_task=_cadence_next(task, actor, outcome, now))


def _cadence_next(task: Task, actor, outcome: str, now) -> Task | None:
    cadence = task.cadence
    if cadence is None or not cadence.active or task.attempt >= cadence.max_attempts:
        return None
    if cadence.repeat == Cadence.Repeat.NO_ANSWER and outcome != Task.Outcome.NO_ANSWER:
        return None
    base_title = task.data.get("base_title") or task.title
    attempt = task.attempt + 1
    return task_create(
        actor=actor,
        check_access=False,
        title=_("%(title)s (attempt %(attempt)s)") % {"title": base_title, "attempt": attempt},
        due_at=now + dt.timedelta(days=cadence.interval_days),
        assignee=task.assignee,
        team=task.team,
        customer=task.customer,
        deal=task.deal,
        source=task.source if task.source_type_id else None,
        priority=task.priority,
        note=task.note,
        cadence=cadence,
        data={"base_title": base_title, "cadence": cadence.pk, "attempt": attempt},
        attempt=attempt,
        previous=task,
    )


@transaction.atomic
def task_delete(*, task: Task, actor) -> None:
    _check_task_access(actor, task, "sales.delete_task")
    task.delete()


def _after_sale_task(deal: Deal, actor, now) -> Task | None:
    """Once per deal: the follow-up after the sale, for the owner."""
    if Task.objects.filter(deal=deal, data__after_sale=True).exists():
        return None
    due_day = deal.after_sale_follow_up_on or (timezone.localdate(now) + dt.timedelta(days=AFTER_SALE_DAYS))
    due_at = timezone.make_aware(dt.datetime.combine(due_day, dt.time(10, 0)))
    return task_create(
        actor=actor,
        check_access=False,
        title=_("After-sale follow-up: %(title)s") % {"title": deal.title},
        due_at=due_at,
        assignee=deal.owner,
        team=deal.team,
        deal=deal,
        customer=deal.customer,
        data={"after_sale": True},
    )


def task_create_from_followup(followup: followups.FollowUp) -> Task:
    """The handler of crm.followups for "task": a call wrap-up or a missed call asks for a follow-up.

    A call's follow-up gets the default "no answer" cadence, so an unanswered call-back comes round again.
    """
    from callcenter.models import Call

    cadence = None
    if isinstance(followup.source, Call):
        cadence = Cadence.objects.filter(active=True, repeat=Cadence.Repeat.NO_ANSWER).order_by("id").first()
    return task_create(
        actor=followup.actor,
        check_access=False,
        title=followup.title,
        due_at=followup.due_at or timezone.now() + dt.timedelta(days=1),
        assignee=followup.assignee,
        team=followup.team,
        customer=followup.customer,
        source=followup.source,
        note=followup.note,
        cadence=cadence,
        data={"followup": followup.kind, **followup.data},
    )
