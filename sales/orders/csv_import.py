"""CSV import of orders: small files at once, large ones by a Celery task with progress.

Rows with the same order number are the items of one order; each order is saved whole or not at all
and a bad one is reported by its line number. Order numbers already recorded are counted, not changed,
so importing a file twice is harmless.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from customers.imports.files import SNIFF_BYTES, ImportFileError, sample_encoding
from customers.models import Customer
from customers.permissions import customers_visible_to

from ..models import Order, OrderImport
from .records import ItemInput, OrderNumberTaken, order_create

IMPORT_MAX_ROWS = 5000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
# Files with more lines than this are imported by a Celery task; the page shows its progress.
SYNC_MAX_ROWS = 500
PROGRESS_EVERY = 50

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
    try:
        text = data.decode(sample_encoding(data[:SNIFF_BYTES]))
    except ImportFileError as exc:
        raise ValidationError(str(exc)) from None
    except UnicodeDecodeError:
        raise ValidationError(_("The file is not text in UTF-8, Big5 or GB18030.")) from None
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
    from ..tasks import import_orders

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
