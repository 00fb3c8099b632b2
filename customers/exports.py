"""Customer export: a list, a search result or a segment taken out as CSV or XLSX by a Celery job.

`export_start` takes any queryset of customers (the list page's filtered one, a segment's) with a
human description of what it holds; it keeps only what the user may see, snapshots the ids and
queues the job. Phone numbers and e-mail are masked unless the user may see them; every export
leaves an access-log row with its count and filter.
"""

import csv
import os

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import AccessLog

from .models import ContactPoint, Customer, DataJob
from .normalise import mask_email, mask_phone
from .permissions import can_view_contact_details, customers_visible_to

CHUNK = 1000
# A cell starting with one of these is a formula to Excel or LibreOffice (=CMD|'/C calc'!A0): CSV
# injection. Prefixing an apostrophe makes it text; our import strips it again.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def can_export(user) -> bool:
    return user.is_authenticated and user.has_perm("customers.export_customers")


def export_start(
    *, user, queryset: QuerySet, description: str, filters: dict | None = None, fmt: str = "csv"
) -> DataJob:
    """Queue an export of the customers in `queryset` that `user` may see."""
    if not can_export(user):
        raise PermissionDenied(_("You may not export customers."))
    if fmt not in DataJob.Format.values:
        raise ValidationError(_("Choose CSV or XLSX."))
    ids = list(
        customers_visible_to(user, queryset).order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    from .tasks import export_customers_task

    with transaction.atomic():
        job = DataJob.objects.create(
            kind=DataJob.Kind.EXPORT,
            status=DataJob.Status.QUEUED,
            created_by=user,
            fmt=fmt,
            description=description[:500],
            filters={str(k): str(v)[:200] for k, v in (filters or {}).items()},
            source_ids=ids,
            total_rows=len(ids),
        )
        transaction.on_commit(lambda: export_customers_task.delay(job_id=job.pk))
    return job


def export_columns() -> list[str]:
    return [
        _("Name"),
        _("Phone"),
        _("E-mail"),
        _("Tags"),
        _("Owner"),
        _("Team"),
        _("Lifecycle"),
        _("Source"),
        _("Created"),
    ]


def export_run(job_id: int) -> DataJob:
    job = DataJob.objects.select_related("created_by").get(pk=job_id, kind=DataJob.Kind.EXPORT)
    if job.status == DataJob.Status.DONE:
        return job
    DataJob.objects.filter(pk=job.pk).update(
        status=DataJob.Status.RUNNING, started_at=timezone.now(), processed_rows=0
    )
    try:
        count = _write_file(job)
    except Exception as exc:
        DataJob.objects.filter(pk=job.pk).update(
            status=DataJob.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
        )
        raise
    unmasked = can_view_contact_details(job.created_by)
    with transaction.atomic():
        DataJob.objects.filter(pk=job.pk).update(
            status=DataJob.Status.DONE,
            finished_at=timezone.now(),
            processed_rows=count,
            created_count=count,
            result_file=job.result_file.name,
        )
        AccessLog.objects.create(
            user=job.created_by,
            action=AccessLog.Action.EXPORT,
            content_type=ContentType.objects.get_for_model(Customer),
            field="contact_points" if unmasked else "masked",
            count=count,
            filters={
                "filter": job.description,
                **job.filters,
                "format": job.fmt,
                "contacts": "unmasked" if unmasked else "masked",
                "export_job": str(job.pk),
            },
        )
    job.refresh_from_db()
    return job


def _write_file(job: DataJob) -> int:
    name = default_storage.generate_filename(
        f"customer-jobs/export-{job.pk}-{timezone.now():%Y%m%d-%H%M%S}.{job.fmt}"
    )
    path = default_storage.path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = _XlsxWriter(path) if job.fmt == DataJob.Format.XLSX else _CsvWriter(path)
    count = 0
    with writer:
        writer.row(export_columns())
        for values in _rows(job):
            writer.row(values)
            count += 1
            if count % CHUNK == 0:
                DataJob.objects.filter(pk=job.pk).update(processed_rows=count)
    job.result_file.name = name
    return count


def _rows(job: DataJob):
    """The rows of the file, a chunk of customers at a time, read as plain values (three queries
    per chunk) rather than model instances: exporting 100,000 customers is mostly Python."""
    user = job.created_by
    unmasked = can_view_contact_details(user)
    stages = {value: str(label) for value, label in Customer.Lifecycle.choices}
    ids = job.source_ids
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # Checked again now: the user's access may have changed since the export was asked for.
        customers = {
            row[0]: row
            for row in customers_visible_to(user, Customer.objects.filter(pk__in=chunk)).values_list(
                "pk", "name", "owner__username", "team__name", "lifecycle_stage", "source", "created_at"
            )
        }
        phones, emails, tags = {}, {}, {}
        for customer_id, kind, value, normalised, extension in (
            ContactPoint.objects.filter(
                customer_id__in=list(customers), kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL]
            )
            .order_by("customer_id", "-is_primary", "id")
            .values_list("customer_id", "kind", "value", "normalised", "extension")
        ):
            if kind == ContactPoint.Kind.PHONE:
                shown = (
                    (normalised + (f" #{extension}" if extension else ""))
                    if unmasked
                    else mask_phone(normalised)
                )
                phones.setdefault(customer_id, []).append(shown)
            else:
                emails.setdefault(customer_id, []).append(value if unmasked else mask_email(normalised))
        for customer_id, name in (
            Customer.tags.through.objects.filter(customer_id__in=list(customers))
            .order_by("tag__name")
            .values_list("customer_id", "tag__name")
        ):
            tags.setdefault(customer_id, []).append(name)
        for pk in chunk:
            if pk not in customers:
                continue
            _pk, name, owner, team, stage, source, created_at = customers[pk]
            yield [
                name,
                " / ".join(phones.get(pk, ())),
                " / ".join(emails.get(pk, ())),
                ", ".join(tags.get(pk, ())),
                owner or "",
                team or "",
                stages.get(stage, stage),
                source,
                timezone.localtime(created_at).strftime("%Y-%m-%d %H:%M"),
            ]


class _CsvWriter:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.handle = open(self.path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed in __exit__
        self.writer = csv.writer(self.handle)
        return self

    def row(self, values):
        self.writer.writerow([neutralise(value) for value in values])

    def __exit__(self, *exc):
        self.handle.close()


class _XlsxWriter:
    """openpyxl's write-only mode streams rows to disk: memory stays flat."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        import openpyxl

        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(_("Customers"))
        return self

    def row(self, values):
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for value in values:
            cell = WriteOnlyCell(self.sheet, value=value)
            if cell.data_type == "f":  # never a formula: the text as it was typed
                cell.data_type = "s"
            cells.append(cell)
        self.sheet.append(cells)

    def __exit__(self, *exc):
        self.workbook.save(self.path)
