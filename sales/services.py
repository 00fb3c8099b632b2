"""Every write to deals, line items, tasks and the sales settings goes through here.

Services check the acting user's permissions themselves (actor=None means the system, e.g. a Celery
task or a follow-up another app asked for), run in a transaction and write the customer's timeline
through customers.services.record_interaction.
"""

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from crm import followups, pubsub
from customers.models import Customer, Interaction
from customers.permissions import customers_visible_to
from customers.services import record_interaction, tags_from_names

from . import selectors
from .models import Cadence, Deal, DealLineItem, LostReason, Product, Stage, Task
from .money import CURRENCIES, format_money

logger = logging.getLogger(__name__)

MAX_AMOUNT = Decimal("999999999999.99")
AFTER_SALE_DAYS = 30


class DealConflict(Exception):
    """The deal changed since the user loaded it; nothing was saved. `deal` is the deal as it is now."""

    def __init__(self, deal: Deal):
        self.deal = deal
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return _(
            "Someone changed “%(title)s” while you were looking at it; nothing was saved. "
            "It is shown as it is now: check it and try again."
        ) % {"title": self.deal.title}


# Permissions -----------------------------------------------------------------------------------


def _check_deal_access(actor, deal: Deal, permission: str, message: str) -> None:
    if actor is None:
        return
    if not actor.has_perm(permission):
        raise PermissionDenied(message)
    if not selectors.deals_visible_to(actor).filter(pk=deal.pk).exists():
        raise PermissionDenied(_("You do not have access to this deal."))


def _check_task_access(actor, task: Task, permission: str) -> None:
    if actor is None:
        return
    if not actor.has_perm(permission):
        raise PermissionDenied(_("You may not change tasks."))
    if not selectors.tasks_visible_to(actor).filter(pk=task.pk).exists():
        raise PermissionDenied(_("You do not have access to this task."))


def _check_customer_visible(actor, customer: Customer) -> None:
    if actor is not None and not customers_visible_to(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You do not have access to this customer."))


def can_manage_settings(user) -> bool:
    return user.is_authenticated and user.has_perm("sales.manage_pipelines")


# Deals -----------------------------------------------------------------------------------------


def _clean_amount(value, field="amount") -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("Enter an amount, e.g. 12000 or 99.50.")}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError({field: _("The amount cannot be negative.")})
    if amount > MAX_AMOUNT:
        raise ValidationError({field: _("The amount is too large.")})
    return amount.quantize(Decimal("0.01"))


def _status_for(stage: Stage) -> str:
    if stage.is_won:
        return Deal.Status.WON
    if stage.is_lost:
        return Deal.Status.LOST
    return Deal.Status.OPEN


def _record(deal: Deal, actor, summary: str, data: dict, occurred_at=None) -> Interaction:
    return record_interaction(
        customer=deal.customer,
        kind=Interaction.Kind.DEAL,
        summary=summary,
        actor=actor,
        subject=deal,
        occurred_at=occurred_at,
        data={"deal": deal.pk, **data},
    )


@transaction.atomic
def deal_create(
    *,
    actor,
    customer: Customer,
    title: str,
    stage: Stage | None = None,
    amount=0,
    currency: str = "",
    expected_close_date: dt.date | None = None,
    owner=None,
    team=None,
    source: str = "",
    tags=(),
    contract_status: str = Deal.Contract.NONE,
    after_sale_follow_up_on: dt.date | None = None,
    lost_reason: LostReason | None = None,
    now=None,
) -> Deal:
    """Open a deal for a customer; the first stage of the first pipeline unless a stage is given."""
    if actor is not None and not actor.has_perm("sales.add_deal"):
        raise PermissionDenied(_("You may not create deals."))
    _check_customer_visible(actor, customer)
    now = now or timezone.now()
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("Enter a title for the deal.")
    try:
        amount = _clean_amount(amount)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    currency = currency or settings_currency()
    if currency not in CURRENCIES:
        errors["currency"] = _("Choose a currency from the list.")
    if contract_status not in Deal.Contract.values:
        errors["contract_status"] = _("Choose a contract status from the list.")
    if stage is None:
        stage = (
            Stage.objects.filter(pipeline__active=True)
            .select_related("pipeline")
            .order_by("pipeline__order", "pipeline__id", "order", "id")
            .first()
        )
        if stage is None:
            errors["stage"] = _("Create a pipeline with stages first.")
    if errors:
        raise ValidationError(errors)
    if owner is None and actor is not None and actor.is_authenticated:
        owner = actor
    if team is None and owner is not None:
        team = owner.team
    status = _status_for(stage)
    deal = Deal.objects.create(
        customer=customer,
        organisation=customer if customer.is_organisation else customer.organisation,
        title=title,
        amount=amount,
        currency=currency,
        expected_close_date=expected_close_date,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        status=status,
        owner=owner,
        team=team,
        source=(source or "").strip(),
        contract_status=contract_status,
        after_sale_follow_up_on=after_sale_follow_up_on,
        lost_reason=lost_reason if stage.is_lost else None,
        stage_changed_at=now,
        last_activity_at=now,
        closed_at=now if status != Deal.Status.OPEN else None,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
    )
    if tags:
        deal.tags.set(tags_from_names(tags) if isinstance(next(iter(tags)), str) else tags)
    _record(
        deal,
        actor,
        _("Deal created: %(title)s (%(stage)s, %(amount)s)")
        % {"title": deal.title, "stage": stage.name, "amount": format_money(amount, currency)},
        {"event": "created", "stage": stage.pk, "amount": str(amount), "currency": currency},
        occurred_at=now,
    )
    if status == Deal.Status.WON:
        _after_sale_task(deal, actor, now)
    return deal


def settings_currency() -> str:
    return getattr(settings, "SALES_DEFAULT_CURRENCY", "TWD")


def _lock(deal: Deal, expected_version: int | None) -> Deal:
    # Lock the row alone, then read it with its relations: a locking query with joins would lose the
    # row when a concurrent move changed its stage (PostgreSQL rechecks the join against the old stage).
    Deal.objects.select_for_update().filter(pk=deal.pk).values_list("pk").get()
    current = Deal.objects.select_related("customer", "stage", "owner", "pipeline").get(pk=deal.pk)
    if expected_version is not None and current.version != expected_version:
        raise DealConflict(current)
    return current


def _apply_stage(deal: Deal, stage: Stage, actor, lost_reason, now) -> None:
    old = deal.stage
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    deal.status = _status_for(stage)
    deal.stage_changed_at = now
    deal.closed_at = now if deal.status != Deal.Status.OPEN else None
    if stage.is_lost:
        if lost_reason is not None:
            deal.lost_reason = lost_reason
    else:
        deal.lost_reason = None
        deal.lost_note = ""
    summary = _("Deal “%(title)s”: stage changed from “%(old)s” to “%(new)s”") % {
        "title": deal.title,
        "old": old.name,
        "new": stage.name,
    }
    if stage.is_lost and deal.lost_reason_id:
        summary += " — " + deal.lost_reason.name
    _record(
        deal,
        actor,
        summary,
        {"field": "stage", "from": old.pk, "to": stage.pk, "from_name": old.name, "to_name": stage.name},
        occurred_at=now,
    )
    if deal.status == Deal.Status.WON:
        _after_sale_task(deal, actor, now)


@transaction.atomic
def deal_move(
    *,
    deal: Deal,
    stage: Stage,
    expected_version: int,
    actor,
    lost_reason: LostReason | None = None,
    now=None,
) -> Deal:
    """Move a deal to another stage, unless someone changed it since `expected_version` (DealConflict)."""
    _check_deal_access(actor, deal, "sales.change_deal", _("You may not change deals."))
    deal = _lock(deal, expected_version)
    if stage.pk == deal.stage_id:
        return deal
    now = now or timezone.now()
    _apply_stage(deal, stage, actor, lost_reason, now)
    deal.version += 1
    deal.last_activity_at = now
    deal.save()
    return deal


TRACKED = ("amount", "owner", "contract_status", "lost_reason")
UPDATABLE = {
    "title",
    "amount",
    "currency",
    "expected_close_date",
    "owner",
    "team",
    "source",
    "contract_status",
    "after_sale_follow_up_on",
    "lost_reason",
    "lost_note",
}


@transaction.atomic
def deal_update(
    *,
    deal: Deal,
    actor,
    expected_version: int | None = None,
    stage: Stage | None = None,
    tags=None,
    now=None,
    **changes,
) -> Deal:
    """Change a deal's fields (and its stage); stage, amount, owner, contract and lost reason go on the timeline."""
    _check_deal_access(actor, deal, "sales.change_deal", _("You may not change deals."))
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"Unknown deal fields: {sorted(unknown)}")
    errors = {}
    if "title" in changes:
        changes["title"] = (changes["title"] or "").strip()
        if not changes["title"]:
            errors["title"] = _("Enter a title for the deal.")
    if "amount" in changes:
        try:
            changes["amount"] = _clean_amount(changes["amount"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "currency" in changes and changes["currency"] not in CURRENCIES:
        errors["currency"] = _("Choose a currency from the list.")
    if "contract_status" in changes and changes["contract_status"] not in Deal.Contract.values:
        errors["contract_status"] = _("Choose a contract status from the list.")
    if errors:
        raise ValidationError(errors)
    deal = _lock(deal, expected_version)
    now = now or timezone.now()
    tracked, any_change = [], False
    for name, value in changes.items():
        old = getattr(deal, name)
        if old != value:
            setattr(deal, name, value)
            any_change = True
            if name in TRACKED:
                tracked.append((name, old, value))
    if "team" not in changes and deal.owner is not None and any(name == "owner" for name, *_rest in tracked):
        deal.team = deal.owner.team
    if stage is not None and stage.pk != deal.stage_id:
        _apply_stage(deal, stage, actor, changes.get("lost_reason"), now)
        any_change = True
    if tags is not None:
        new_tags = tags_from_names(tags) if tags and isinstance(tags[0], str) else list(tags)
        if {t.pk for t in deal.tags.all()} != {t.pk for t in new_tags}:
            deal.tags.set(new_tags)
            any_change = True
    if not any_change:
        return deal
    deal.version += 1
    deal.last_activity_at = now
    deal.save()
    for name, old, new in tracked:
        summary = _change_summary(deal, name, old, new)
        _record(deal, actor, summary, {"field": name, **_change_data(name, old, new)}, now)
    return deal


def _change_summary(deal, name, old, new) -> str:
    label = Deal._meta.get_field(name).verbose_name
    if name == "amount":
        old_text, new_text = format_money(old, deal.currency), format_money(new, deal.currency)
    elif name == "contract_status":
        choices = dict(Deal.Contract.choices)
        old_text, new_text = choices.get(old, old), choices.get(new, new)
    else:
        old_text, new_text = (str(old) if old is not None else "—"), (str(new) if new is not None else "—")
    return _("Deal “%(title)s”: %(field)s changed from “%(old)s” to “%(new)s”") % {
        "title": deal.title,
        "field": label,
        "old": old_text,
        "new": new_text,
    }


def _change_data(name, old, new) -> dict:
    if name in ("owner", "lost_reason"):
        return {"from": getattr(old, "pk", None), "to": getattr(new, "pk", None)}
    return {"from": str(old) if old is not None else None, "to": str(new) if new is not None else None}


@transaction.atomic
def deal_delete(*, deal: Deal, actor) -> None:
    _check_deal_access(actor, deal, "sales.delete_deal", _("You may not delete deals."))
    _record(deal, actor, _("Deal deleted: %(title)s") % {"title": deal.title}, {"event": "deleted"})
    deal.delete()


def deal_share(*, deal: Deal, user, actor, revoke: bool = False) -> None:
    _check_deal_access(actor, deal, "sales.share_deal", _("You may not share deals."))
    if revoke:
        remove_perm("sales.view_deal", user, deal)
    else:
        assign_perm("sales.view_deal", user, deal)
    _record(
        deal,
        actor,
        (
            _("Deal “%(title)s” no longer shared with %(user)s")
            if revoke
            else _("Deal “%(title)s” shared with %(user)s")
        )
        % {"title": deal.title, "user": user},
        {"event": "unshared" if revoke else "shared", "user": user.pk},
    )


@transaction.atomic
def line_item_add(
    *,
    deal: Deal,
    actor,
    description: str = "",
    quantity=1,
    unit_price=None,
    product: Product | None = None,
) -> DealLineItem:
    """Add a product or service to the deal; the deal's amount becomes the sum of its line items."""
    _check_deal_access(actor, deal, "sales.change_deal", _("You may not change deals."))
    description = (description or "").strip() or (product.name if product else "")
    errors = {}
    if not description:
        errors["description"] = _("Choose a product or describe the item.")
    try:
        quantity = Decimal(str(quantity))
        if not quantity.is_finite() or quantity <= 0 or quantity > Decimal("99999999"):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["quantity"] = _("Enter a quantity above zero.")
    if unit_price in (None, "") and product is not None:
        unit_price = product.unit_price
    try:
        unit_price = _clean_amount(unit_price, "unit_price")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    item = DealLineItem.objects.create(
        deal=deal, product=product, description=description[:200], quantity=quantity, unit_price=unit_price
    )
    _amount_from_line_items(deal, actor)
    return item


@transaction.atomic
def line_item_remove(*, item: DealLineItem, actor) -> None:
    deal = item.deal
    _check_deal_access(actor, deal, "sales.change_deal", _("You may not change deals."))
    item.delete()
    _amount_from_line_items(deal, actor)


def _amount_from_line_items(deal: Deal, actor) -> None:
    total = sum((item.total for item in DealLineItem.objects.filter(deal=deal)), Decimal(0))
    deal_update(deal=deal, actor=actor, amount=min(total, MAX_AMOUNT))


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


# Reminders -------------------------------------------------------------------------------------

REMINDER_BATCH = 200
REMINDER_MAX_BATCHES = 25


def reminders_send_due(*, now=None, batch_size=REMINDER_BATCH, max_batches=REMINDER_MAX_BATCHES) -> int:
    """Remind assignees of the tasks now due, in the app (live) and by e-mail; each task once.

    Claims a bounded batch at a time (rows locked with SKIP LOCKED, so two beat runs never send the
    same reminder) and marks it sent in the same transaction before delivering.
    """
    now = now or timezone.now()
    sent = 0
    for _batch in range(max_batches):
        with transaction.atomic():
            tasks = list(
                Task.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(done_at__isnull=True, reminder_sent_at__isnull=True, remind_at__lte=now)
                .select_related("assignee", "customer", "team__manager", "deal")
                .order_by("remind_at", "id")[:batch_size]
            )
            if not tasks:
                break
            Task.objects.filter(pk__in=[t.pk for t in tasks]).update(reminder_sent_at=now)
        for task in tasks:
            _deliver_reminder(task, now)
        sent += len(tasks)
        if len(tasks) < batch_size:
            break
    return sent


def _deliver_reminder(task: Task, now) -> None:
    recipient = task.assignee or (task.team.manager if task.team else None)
    if recipient is None or not recipient.is_active:
        return
    with (
        translation.override(recipient.language or settings.LANGUAGE_CODE),
        timezone.override(recipient.timezone or settings.TIME_ZONE),
    ):
        context = {"task": task, "recipient": recipient, "now": now}
        html = render_to_string("sales/notification.html", context)
        pubsub.publish(pubsub.user_channel(recipient.pk), "notify", html)
        if recipient.email:
            try:
                send_mail(
                    subject=render_to_string("sales/reminder_subject.txt", context).strip(),
                    message=render_to_string("sales/reminder_email.txt", context),
                    from_email=None,
                    recipient_list=[recipient.email],
                )
            except Exception:  # noqa: BLE001 - one failing mailbox must not stop the other reminders
                logger.warning("sales: reminder e-mail for task %s failed", task.pk, exc_info=True)
