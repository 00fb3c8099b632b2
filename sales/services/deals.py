"""Deals and their line items: create, update, move (optimistic locking), delete, share."""

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from customers.models import Customer, Interaction
from customers.services import record_interaction, tags_from_names

from ..assignment import assignment_apply
from ..models import Deal, DealLineItem, LostReason, Product, Stage
from ..money import CURRENCIES, format_money
from .access import _check_customer_visible, _check_deal_access
from .tasks import _after_sale_task

logger = logging.getLogger(__name__)


MAX_AMOUNT = Decimal("999999999999.99")


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
    assign_by_rules = owner is None
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
    if assign_by_rules:
        assignment_apply(deal=deal, actor=actor)
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
