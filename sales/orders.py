"""Orders: purchases from the store, the web shop or the LINE shop, by API, CSV import or by hand.

An order number is unique: recording an order whose number is already there returns the existing
order and changes nothing, whether the two arrive one after the other or at the same moment (the
unique index decides; the loser's whole attempt, including a customer it would have created, is
rolled back). Each new order goes on the customer's timeline.

Who sees which order: whoever may see the order's customer (customers_visible_to) and holds
`sales.view_order`, as for deals.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from crm import roles
from customers import services as customer_services
from customers.models import ContactPoint, Customer, Interaction
from customers.normalise import email_normalise, phone_normalise
from customers.permissions import customers_visible_to

from .models import Order, OrderImport, OrderItem
from .money import CURRENCIES, format_money

MAX_AMOUNT = Decimal("999999999999.99")
MAX_ITEMS = 500
IMPORT_MAX_ROWS = 5000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
# Files with more lines than this are imported by a Celery task; the page shows its progress.
SYNC_MAX_ROWS = 500
PROGRESS_EVERY = 50
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
    from .services import settings_currency

    return settings_currency()


# CSV import ------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "order_number",
    "date",
    "channel",
    "amount",
    "currency",
    "customer_id",
    "phone",
    "email",
    "customer_name",
    "sku",
    "description",
    "quantity",
    "unit_price",
    "note",
]
REQUIRED_COLUMNS = {"order_number", "date"}
CHANNEL_ALIASES = {
    **{value: value for value in Order.Channel.values},
    "pos": Order.Channel.STORE,
    "shop": Order.Channel.STORE,
    "門市": Order.Channel.STORE,
    "门店": Order.Channel.STORE,
    "web": Order.Channel.ECOMMERCE,
    "e-commerce": Order.Channel.ECOMMERCE,
    "online": Order.Channel.ECOMMERCE,
    "line": Order.Channel.LINE_SHOP,
    "line shop": Order.Channel.LINE_SHOP,
}


@dataclass
class ImportResult:
    created: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len({line for line, _message in self.errors})


def _parse_when(text: str) -> dt.datetime:
    text = (text or "").strip()
    when = parse_datetime(text.replace("/", "-"))
    if when is None:
        day = parse_date(text.replace("/", "-"))
        if day is None:
            raise ValueError
        when = dt.datetime.combine(day, dt.time(12, 0))
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


def read_csv(data: bytes) -> list[dict]:
    """The rows of an uploaded CSV (UTF-8, with or without BOM, or Big5 from Excel), keys lower case."""
    if len(data) > IMPORT_MAX_BYTES:
        raise ValidationError(_("The file is larger than 5 MB: split it into smaller files."))
    for encoding in ("utf-8-sig", "big5", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError(_("The file is not text in UTF-8, Big5 or GB18030."))
    if "\x00" in text:
        raise ValidationError(_("The file is not a CSV file."))
    reader = csv.DictReader(io.StringIO(text))
    headers = {(name or "").strip().lower() for name in reader.fieldnames or []}
    missing = REQUIRED_COLUMNS - headers
    if missing:
        raise ValidationError(
            _("The file needs the columns %(columns)s; the first line must name the columns.")
            % {"columns": ", ".join(sorted(missing))}
        )
    rows = []
    for row in reader:
        rows.append({(key or "").strip().lower(): (value or "").strip() for key, value in row.items() if key})
        if len(rows) > IMPORT_MAX_ROWS:
            raise ValidationError(
                _("The file has more than %(max)d rows: split it into smaller files.")
                % {"max": IMPORT_MAX_ROWS}
            )
    return rows


def orders_import(*, actor, rows: list[dict], progress=None) -> ImportResult:
    """Record the orders of CSV rows; rows with the same order number are the items of one order.

    Each order is saved whole or not at all; a bad order is reported by its line numbers and the
    others are still saved. Order numbers already recorded are counted, not changed.
    """
    if actor is not None and not actor.has_perm("sales.import_orders"):
        raise PermissionDenied(_("You may not import orders."))
    groups: dict[str, list[tuple[int, dict]]] = {}
    result = ImportResult()
    for line, row in enumerate(rows, start=2):
        number = row.get("order_number", "")
        if not number:
            result.errors.append((line, _("The order number is empty.")))
            continue
        groups.setdefault(number, []).append((line, row))
    visible = (
        customers_visible_to(actor)
        if actor is not None
        else Customer.objects.filter(merged_into__isnull=True)
    )
    for done, (number, lines) in enumerate(groups.items()):
        if progress is not None and done and done % PROGRESS_EVERY == 0:
            progress(result, done)
        first_line, first = lines[0]
        try:
            ordered_at = _parse_when(first.get("date", ""))
        except ValueError:
            result.errors.append(
                (
                    first_line,
                    _("“%(value)s” is not a date like 2026-11-23.") % {"value": first.get("date", "")[:40]},
                )
            )
            continue
        channel = CHANNEL_ALIASES.get(first.get("channel", "").casefold() or "store")
        if channel is None:
            result.errors.append(
                (first_line, _("Unknown channel “%(value)s”.") % {"value": first["channel"][:40]})
            )
            continue
        customer = None
        if first.get("customer_id"):
            customer = (
                visible.filter(pk=int(first["customer_id"])).first()
                if first["customer_id"].isdigit()
                else None
            )
            if customer is None:
                result.errors.append(
                    (
                        first_line,
                        _("No customer %(id)s, or you do not have access to it.")
                        % {"id": first["customer_id"][:20]},
                    )
                )
                continue
        items = [
            ItemInput(
                description=row.get("description", ""),
                sku=row.get("sku", ""),
                quantity=row.get("quantity", "") or 1,
                unit_price=row.get("unit_price", ""),
            )
            for _line, row in lines
            if row.get("description") or row.get("sku") or row.get("unit_price")
        ]
        try:
            _order, created = order_create(
                actor=actor,
                number=number,
                ordered_at=ordered_at,
                channel=channel,
                amount=first.get("amount") or None,
                currency=first.get("currency", "").upper(),
                items=items,
                customer=customer,
                phone=first.get("phone", ""),
                email=first.get("email", ""),
                customer_name=first.get("customer_name", ""),
                note=first.get("note", ""),
                source=Order.Source.CSV,
            )
        except ValidationError as exc:
            messages = (
                exc.messages
                if not hasattr(exc, "error_dict")
                else [m for ms in exc.message_dict.values() for m in ms]
            )
            result.errors.append((first_line, " ".join(messages)))
            continue
        except OrderNumberTaken:
            result.errors.append(
                (first_line, _("Order number %(number)s is already used.") % {"number": number[:64]})
            )
            continue
        except PermissionDenied as exc:
            result.errors.append((first_line, str(exc)))
            continue
        if created:
            result.created += 1
        else:
            result.existing += 1
    result.errors.sort()
    return result


def orders_import_start(*, actor, rows: list[dict], file_name: str = "") -> ImportResult | OrderImport:
    """Import a small file at once (the ImportResult), or queue a large one (the OrderImport to watch)."""
    if actor is not None and not actor.has_perm("sales.import_orders"):
        raise PermissionDenied(_("You may not import orders."))
    if len(rows) <= SYNC_MAX_ROWS:
        return orders_import(actor=actor, rows=rows)
    job = OrderImport.objects.create(
        created_by=actor,
        file_name=file_name[:200],
        rows=rows,
        total=len({row.get("order_number", "") for row in rows}),
    )
    from .tasks import import_orders

    transaction.on_commit(lambda: import_orders.delay(job.pk))
    return job


def orders_import_run(*, import_id: int) -> OrderImport | None:
    """The task's work: import the queued rows as the user who uploaded them, saving progress as it goes."""
    claimed = OrderImport.objects.filter(pk=import_id, status=OrderImport.Status.PENDING).update(
        status=OrderImport.Status.RUNNING
    )
    if not claimed:
        return None  # already run (a redelivered task) or gone
    job = OrderImport.objects.select_related("created_by").get(pk=import_id)

    def progress(result, done):
        OrderImport.objects.filter(pk=job.pk).update(
            processed=done, created=result.created, existing=result.existing
        )

    try:
        result = orders_import(actor=job.created_by, rows=job.rows, progress=progress)
    except Exception:
        OrderImport.objects.filter(pk=job.pk).update(
            status=OrderImport.Status.FAILED, finished_at=timezone.now()
        )
        raise
    OrderImport.objects.filter(pk=job.pk).update(
        status=OrderImport.Status.DONE,
        processed=job.total,
        created=result.created,
        existing=result.existing,
        errors=[[line, message] for line, message in result.errors[:1000]],
        rows=[],
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job
