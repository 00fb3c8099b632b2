"""Orders: purchases from the store, the web shop or the LINE shop, by API, CSV import or by hand.

An order number is unique: recording an order whose number is already there returns the existing
order and changes nothing, whether the two arrive one after the other or at the same moment (the
unique index decides; the loser's whole attempt, including a customer it would have created, is
rolled back). Each new order goes on the customer's timeline.

Who sees which order: whoever may see the order's customer (customers_visible_to) and holds
`sales.view_order`, as for deals.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import roles
from customers import services as customer_services
from customers.models import ContactPoint, Customer, Interaction
from customers.normalise import email_normalise, phone_normalise
from customers.permissions import customers_visible_to

from ..models import Order, OrderItem
from ..money import CURRENCIES, format_money

MAX_AMOUNT = Decimal("999999999999.99")
MAX_ITEMS = 500
TIMELINE_CHANNEL = {
    Order.Channel.STORE: Interaction.Channel.IN_PERSON,
    Order.Channel.ECOMMERCE: Interaction.Channel.WEB,
    Order.Channel.LINE_SHOP: Interaction.Channel.LINE,
    Order.Channel.OTHER: Interaction.Channel.CRM,
}


class OrderNumberTaken(Exception):
    """The order number belongs to an order the user may not see: nothing was saved."""


@dataclass
class ItemInput:
    description: str = ""
    sku: str = ""
    quantity: object = 1
    unit_price: object = None


# Reads -----------------------------------------------------------------------------------------


def orders_visible_to(user, queryset=None):
    queryset = Order.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active or not user.has_perm("sales.view_order"):
        return queryset.none()
    if roles.is_admin(user):
        return queryset
    return queryset.filter(customer_id__in=customers_visible_to(user).values("pk"))


def customer_orders(*, user, customer, limit: int = 5) -> dict:
    """The customer's latest orders and their totals, for the 360 page: two queries."""
    orders = orders_visible_to(user, Order.objects.filter(customer=customer))
    recent = list(orders.order_by("-ordered_at", "-id")[:limit])
    totals = list(
        orders.order_by()
        .values("currency")
        .annotate(count=Count("id"), amount=Sum("amount"), last=Max("ordered_at"))
    )
    return {
        "orders": recent,
        "count": sum(t["count"] for t in totals),
        "totals": {t["currency"]: t["amount"] for t in totals},
    }


# Writes ----------------------------------------------------------------------------------------


def _money(value, field_name) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field_name: _("Enter an amount, e.g. 1200 or 99.50.")}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError({field_name: _("The amount cannot be negative.")})
    if amount > MAX_AMOUNT:
        raise ValidationError({field_name: _("The amount is too large.")})
    return amount.quantize(Decimal("0.01"))


def _clean_items(items) -> list[OrderItem]:
    rows = []
    if len(items) > MAX_ITEMS:
        raise ValidationError({"items": _("An order can have at most %(max)d items.") % {"max": MAX_ITEMS}})
    for index, item in enumerate(items, start=1):
        description = (item.description or item.sku or "").strip()[:200]
        if not description:
            raise ValidationError({"items": _("Item %(n)d: give a description or a SKU.") % {"n": index}})
        try:
            quantity = Decimal(str(item.quantity if item.quantity not in (None, "") else 1))
            if not quantity.is_finite() or quantity <= 0 or quantity > Decimal("99999999"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            raise ValidationError(
                {"items": _("Item %(n)d: enter a quantity above zero.") % {"n": index}}
            ) from None
        if item.unit_price in (None, ""):
            raise ValidationError({"items": _("Item %(n)d: enter the unit price.") % {"n": index}})
        unit_price = _money(item.unit_price, "items")
        rows.append(
            OrderItem(
                sku=(item.sku or "").strip()[:64],
                description=description,
                quantity=quantity,
                unit_price=unit_price,
            )
        )
    return rows


def _resolve_customer(*, actor, customer, phone, email, customer_name, channel) -> Customer:
    """The order's customer: the one given, else the one with this phone or e-mail, else a new one."""
    if customer is not None:
        if actor is not None and not customers_visible_to(actor).filter(pk=customer.pk).exists():
            raise ValidationError({"customer": _("No customer found, or you do not have access to it.")})
        return customer
    contact_filter, contacts = None, customer_services.ContactInput()
    try:
        if phone:
            e164, _extension = phone_normalise(phone)
            contact_filter = {"kind": ContactPoint.Kind.PHONE, "normalised": e164}
            contacts.phones = [phone]
        elif email:
            contact_filter = {"kind": ContactPoint.Kind.EMAIL, "normalised": email_normalise(email)}
            contacts.emails = [email]
    except ValidationError as exc:
        raise ValidationError({"phone" if phone else "email": exc.messages}) from None
    if contact_filter is None:
        raise ValidationError(
            {"customer": _("Say whose order it is: a customer id, a phone number or an e-mail.")}
        )
    matches = Customer.objects.filter(
        pk__in=ContactPoint.objects.filter(**contact_filter).values("customer_id"), merged_into__isnull=True
    ).order_by("-created_at", "-id")
    visible = matches if actor is None else customers_visible_to(actor, matches)
    found = visible.first()
    if found is not None:
        return found
    if matches.exists():
        raise ValidationError(
            {"customer": _("A customer you do not have access to has this contact; ask a manager.")}
        )
    name = (customer_name or "").strip()
    if not name:
        raise ValidationError(
            {"customer_name": _("No customer has this contact yet: give the customer's name to create one.")}
        )
    return customer_services.customer_create(
        actor=actor,
        name=name[:200],
        lifecycle_stage=Customer.Lifecycle.CUSTOMER,
        source=str(Order.Channel(channel).label),
        contacts=contacts,
    )


def _existing(number: str, actor) -> Order | None:
    order = Order.objects.filter(number=number).select_related("customer").first()
    if order is None:
        return None
    if actor is not None and not orders_visible_to(actor).filter(pk=order.pk).exists():
        raise OrderNumberTaken(number)
    return order


def order_create(
    *,
    actor,
    number: str,
    ordered_at: dt.datetime | None = None,
    channel: str = Order.Channel.STORE,
    amount=None,
    currency: str = "",
    items=(),
    customer: Customer | None = None,
    phone: str = "",
    email: str = "",
    customer_name: str = "",
    note: str = "",
    source: str = Order.Source.API,
) -> tuple[Order, bool]:
    """Record a purchase; (order, created). An order number seen before returns that order unchanged.

    The customer is the one given, or found by phone or e-mail, or created from `customer_name`.
    The amount defaults to the sum of the items. Raises ValidationError (nothing saved),
    PermissionDenied, or OrderNumberTaken when the number belongs to an order the user cannot see.
    """
    if actor is not None and not actor.has_perm("sales.add_order"):
        raise PermissionDenied(_("You may not record orders."))
    number = (number or "").strip()
    errors = {}
    if not number:
        errors["number"] = _("Enter the order number.")
    elif len(number) > 64 or not number.isprintable():
        errors["number"] = _("An order number is at most 64 printable characters.")
    if errors:
        raise ValidationError(errors)
    existing = _existing(number, actor)
    if existing is not None:
        return existing, False
    if channel not in Order.Channel.values:
        errors["channel"] = _("Choose a channel from the list.")
    currency = currency or _default_currency()
    if currency not in CURRENCIES:
        errors["currency"] = _("Choose a currency from the list.")
    try:
        rows = _clean_items(list(items))
    except ValidationError as exc:
        errors.update(exc.message_dict)
        rows = []
    if amount in (None, ""):
        if not rows and "items" not in errors:
            errors["amount"] = _("Enter the amount or the items.")
        amount = min(sum((row.total for row in rows), Decimal(0)), MAX_AMOUNT).quantize(Decimal("0.01"))
    else:
        try:
            amount = _money(amount, "amount")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if ordered_at is None:
        ordered_at = timezone.now()
    elif ordered_at > timezone.now() + dt.timedelta(days=1):
        errors["ordered_at"] = _("The order date is in the future.")
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            order = _insert(
                actor=actor,
                number=number,
                ordered_at=ordered_at,
                channel=channel,
                amount=amount,
                currency=currency,
                rows=rows,
                note=(note or "").strip()[:500],
                source=source,
                customer=_resolve_customer(
                    actor=actor,
                    customer=customer,
                    phone=(phone or "").strip(),
                    email=(email or "").strip(),
                    customer_name=customer_name,
                    channel=channel,
                ),
            )
    except IntegrityError:
        # The same number was recorded by a concurrent request a moment ago: that order is the answer.
        existing = _existing(number, actor)
        if existing is None:
            raise
        return existing, False
    return order, True


def _insert(*, actor, number, ordered_at, channel, amount, currency, rows, note, source, customer) -> Order:
    order = Order.objects.create(
        number=number,
        customer=customer,
        channel=channel,
        ordered_at=ordered_at,
        amount=amount,
        currency=currency,
        note=note,
        source=source,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    for row in rows:
        row.order = order
    OrderItem.objects.bulk_create(rows)
    customer_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.ORDER,
        summary=_("Order %(number)s: %(amount)s (%(channel)s)")
        % {
            "number": number,
            "amount": format_money(amount, currency),
            "channel": order.get_channel_display(),
        },
        channel=TIMELINE_CHANNEL.get(channel, Interaction.Channel.CRM),
        occurred_at=ordered_at,
        actor=actor,
        subject=order,
        data={
            "order": order.pk,
            "amount": str(amount),
            "currency": currency,
            "channel": channel,
            "items": len(rows),
        },
    )
    return order


def _default_currency() -> str:
    from ..services import settings_currency

    return settings_currency()
