"""Checking a whole file before anything is written (the preview), and importing it in batches.

Each batch of rows is checked first (values, duplicates within the file, matches with existing
customers, one query per batch), then written in one transaction together with the job's progress
counters: a crash leaves every finished batch whole and the job resumes after the last one. When a
batch's write fails anyway, its rows are written one by one, each in a savepoint, and the faulty
ones reported: a row is never half written.
"""

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from ..management.bulk import (
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    TAG_LINK_COLUMNS,
    TagLink,
    writer_for_connection,
)
from ..models import ContactPoint, Customer, DataJob, Interaction, Tag
from ..services import InteractionEntry, record_interactions
from .files import ImportFileError, iter_rows
from .rows import CheckedRow, RowChecker, find_matches, mark_duplicates

BATCH_ROWS = 1000
PREVIEW_ROWS = 5000  # rows a preview checks in the request; the import checks the rest the same way
PREVIEW_SHOWN = 200
CREATE, UPDATE, SKIP, FAIL = "create", "update", "skip", "fail"


@dataclass
class Preview:
    header: list[str]
    rows: list[CheckedRow] = field(default_factory=list)  # those worth a look: problems and matches first
    checked: int = 0
    truncated: bool = False
    new: int = 0
    matches: int = 0
    problems: int = 0
    duplicates: int = 0


def preview(*, path: Path, fmt: str, encoding: str, mapping: dict, user, limit: int | None = PREVIEW_ROWS):
    """What importing the file would do, row by row, without writing anything."""
    rows = iter_rows(path, fmt, encoding)
    header = next(rows, (0, []))[1]
    result = Preview(header=header)
    checker, seen, batch, clean = RowChecker(mapping), {}, [], []
    for number, values in rows:
        if limit is not None and result.checked >= limit:
            result.truncated = True
            break
        batch.append(checker.check(values, number))
        result.checked += 1
        if len(batch) >= BATCH_ROWS:
            _preview_batch(batch, seen, user, result, clean)
            batch = []
    _preview_batch(batch, seen, user, result, clean)
    result.rows.extend(clean[: max(0, 10 - len(result.rows))])
    result.rows.sort(key=lambda row: row.number)
    return result


def _preview_batch(batch, seen, user, result, clean):
    if not batch:
        return
    mark_duplicates(batch, seen)
    find_matches(batch, user=user)
    for row in batch:
        if row.problems:
            result.problems += 1
            result.duplicates += row.duplicate_of is not None
        elif row.match_ids:
            result.matches += 1
        else:
            result.new += 1
        if row.problems or row.match_ids:
            if len(result.rows) < PREVIEW_SHOWN:
                result.rows.append(row)
        elif len(clean) < 10:
            clean.append(row)


def decide(row: CheckedRow, *, on_match: str, row_choices: dict) -> str:
    choice = row_choices.get(str(row.number), on_match) if (row.match_ids or row.hidden_match) else CREATE
    if row.errors or row.duplicate_of or row.earlier_duplicate:
        return FAIL
    if choice == CREATE:
        return CREATE
    if choice == SKIP:
        return SKIP
    if row.hidden_match or len(row.match_ids) != 1:
        return FAIL
    return UPDATE


def import_run(job_id: int, *, progress=None) -> DataJob:
    """Import (or go on importing) the job's file. Safe to call again: it starts after the last
    committed batch. `progress(job)` is called after each batch (the command prints with it)."""
    job = DataJob.objects.select_related("created_by").get(pk=job_id, kind=DataJob.Kind.IMPORT)
    if job.status in (DataJob.Status.DONE, DataJob.Status.DRAFT):
        return job
    DataJob.objects.filter(pk=job.pk).update(
        status=DataJob.Status.RUNNING, started_at=job.started_at or timezone.now(), error=""
    )
    try:
        _run(job, progress)
    except Superseded:
        job.refresh_from_db()
        return job
    except ImportFileError as exc:
        _fail(job, str(exc))
    except Exception as exc:
        _fail(
            job,
            _("The import stopped: %(error)s. The rows before it are saved; resume to go on.")
            % {"error": exc},
        )
        raise
    else:
        DataJob.objects.filter(pk=job.pk).update(status=DataJob.Status.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def _fail(job, message):
    DataJob.objects.filter(pk=job.pk).update(
        status=DataJob.Status.FAILED, finished_at=timezone.now(), error=message[:2000]
    )


def _run(job, progress):
    user = job.created_by
    if user is not None and not (user.is_active and user.has_perm("customers.import_customers")):
        raise ImportFileError(_("%(user)s may no longer import customers.") % {"user": user})
    path = Path(job.file.path)
    rows = iter_rows(path, job.fmt, job.encoding)
    header = next(rows, (0, []))[1]
    checker = RowChecker(job.mapping)
    context = _WriteContext(job=job, user=user, owner_teams=_owner_teams())
    errors = _ErrorFile(job, header)
    already_done, index, batch = job.processed_rows, 0, []
    for number, values in rows:
        index += 1
        if index <= already_done:  # a resumed job: these rows are in already
            continue
        batch.append(checker.check(values, number))
        if len(batch) >= BATCH_ROWS:
            _import_batch(batch, context, errors, starts_after=index - len(batch))
            batch = []
            if progress:
                job.refresh_from_db()
                progress(job)
    _import_batch(batch, context, errors, starts_after=index - len(batch))
    if progress:
        job.refresh_from_db()
        progress(job)


@dataclass
class _WriteContext:
    job: DataJob
    user: object
    owner_teams: dict


def _owner_teams() -> dict[int, int | None]:
    from django.contrib.auth import get_user_model

    return dict(get_user_model().objects.values_list("id", "team_id"))


class Superseded(Exception):
    """Another worker has imported this batch already (a redelivered task running twice)."""


def _import_batch(rows: list[CheckedRow], context: _WriteContext, errors, *, starts_after: int) -> None:
    if not rows:
        return
    job = context.job
    mark_duplicates(rows, {})
    find_matches(rows, user=context.user)
    _mark_earlier_rows(rows, job)
    for row in rows:
        row.action = decide(row, on_match=job.on_match, row_choices=job.row_choices)
    try:
        with transaction.atomic():
            _relax_commit()
            _claim(job, starts_after)
            _write(rows, context)
            _count(job, rows)
    except DatabaseError:
        with transaction.atomic():
            _claim(job, starts_after)
            for row in rows:
                if row.action not in (CREATE, UPDATE):
                    continue
                try:
                    with transaction.atomic():
                        _write([row], context)
                except DatabaseError as exc:
                    row.action = FAIL
                    row.errors.append(_("The database refused this row: %(error)s") % {"error": exc})
            _count(job, rows)
    errors.add([row for row in rows if row.action == FAIL])


def _mark_earlier_rows(rows: list[CheckedRow], job: DataJob) -> None:
    """Duplicates of rows in earlier batches: they match a customer this very import created or
    updated (its timeline says so). Asking the database keeps memory flat whatever the file's
    length, and holds after a resume."""
    ids = {pk for row in rows for pk in row.all_match_ids}
    if not ids:
        return
    touched = set(
        Interaction.objects.filter(customer_id__in=ids, data__import_job=job.pk).values_list(
            "customer_id", flat=True
        )
    )
    for row in rows:
        if touched.intersection(row.all_match_ids):
            row.earlier_duplicate = True


def _relax_commit():
    """Commit the batch without waiting for the disk. A crash may lose the last batches, but never
    half of one: the job's progress is in the same transaction, so resuming redoes exactly those."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")


def _claim(job, starts_after: int) -> None:
    """Lock the job and make sure the batch is the next one to import."""
    done = DataJob.objects.select_for_update().filter(pk=job.pk).values_list("processed_rows", flat=True)
    if list(done) != [starts_after]:
        raise Superseded


def _count(job, rows):
    actions = [row.action for row in rows]
    DataJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(rows),
        created_count=F("created_count") + actions.count(CREATE),
        updated_count=F("updated_count") + actions.count(UPDATE),
        skipped_count=F("skipped_count") + actions.count(SKIP),
        failed_count=F("failed_count") + actions.count(FAIL),
    )


def _write(rows: list[CheckedRow], context: _WriteContext) -> None:
    creates = [row for row in rows if row.action == CREATE]
    updates = [row for row in rows if row.action == UPDATE]
    user, job = context.user, context.job
    writer = writer_for_connection()
    _create_customers(creates, context, writer)
    existing_contacts = _update_customers(updates, context)
    _add_contacts(creates + updates, existing_contacts, writer)
    _add_tags(creates, updates, writer)
    summary = {
        CREATE: _("Imported from %(file)s") % {"file": job.file_name},
        UPDATE: _("Updated by the import of %(file)s") % {"file": job.file_name},
    }
    record_interactions(
        [
            InteractionEntry(
                customer_id=row.customer_id,
                kind=Interaction.Kind.SYSTEM,
                summary=summary[row.action],
                actor_id=user.pk if user is not None and user.is_authenticated else None,
                data={"import_job": job.pk, "row": row.number},
            )
            for row in creates + updates
        ]
    )


def _create_customers(creates, context, writer) -> None:
    """COPY on PostgreSQL (ids reserved from the table's sequence first), bulk_create elsewhere."""
    if not creates:
        return
    default_owner = context.user.pk if context.user is not None else None
    first = writer.reserve(Customer, len(creates))
    now = timezone.now()
    values = []
    for offset, row in enumerate(creates):
        row.customer_id = first + offset
        owner_id = row.owner_id or default_owner
        values.append(
            (
                row.customer_id,
                Customer.Kind.PERSON,
                row.name,
                None,
                owner_id,
                context.owner_teams.get(owner_id),
                row.lifecycle or Customer.Lifecycle.LEAD,
                row.source,
                writer.json(row.attributes),
                now,
                now,
            )
        )
    writer.write(Customer, CUSTOMER_COLUMNS, values)


def _update_customers(updates, context) -> set:
    """Apply the rows' values to the customers they match; return their existing contact keys."""
    if not updates:
        return set()
    ids = sorted({row.match_ids[0] for row in updates})
    customers = Customer.objects.select_for_update(of=("self",)).order_by("pk").in_bulk(ids)
    for row in updates:
        customer = customers[row.match_ids[0]]
        row.customer_id = customer.pk
        customer.name = row.name
        if row.owner_id:
            customer.owner_id = row.owner_id
            customer.team_id = context.owner_teams.get(row.owner_id)
        if row.lifecycle:
            customer.lifecycle_stage = row.lifecycle
        if row.source:
            customer.source = row.source
        if row.attributes:
            customer.custom_attributes = {**(customer.custom_attributes or {}), **row.attributes}
        customer.updated_at = timezone.now()
    _save_customers(list(customers.values()))
    return set(
        ContactPoint.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "kind", "normalised", "extension"
        )
    )


UPDATE_FROM_VALUES = (
    "UPDATE {table} AS c SET name = v.name, owner_id = v.owner_id, team_id = v.team_id, "
    "lifecycle_stage = v.lifecycle_stage, source = v.source, custom_attributes = v.attributes, "
    "updated_at = v.updated_at FROM (VALUES {values}) "
    "AS v(id, name, owner_id, team_id, lifecycle_stage, source, attributes, updated_at) WHERE c.id = v.id"
)
UPDATED_FIELDS = ["name", "owner", "team", "lifecycle_stage", "source", "custom_attributes", "updated_at"]


def _save_customers(customers: list[Customer]) -> None:
    """One UPDATE ... FROM (VALUES ...) on PostgreSQL: bulk_update's CASE expressions cost
    milliseconds of Python per customer."""
    if connection.vendor != "postgresql":
        Customer.objects.bulk_update(customers, UPDATED_FIELDS, batch_size=100)
        return
    row = "(%s::bigint, %s, %s::bigint, %s::bigint, %s, %s, %s::jsonb, %s::timestamptz)"
    params = []
    for c in customers:
        attributes = json.dumps(c.custom_attributes or {}, ensure_ascii=False)
        params += [c.pk, c.name, c.owner_id, c.team_id, c.lifecycle_stage, c.source, attributes, c.updated_at]
    # Only the quoted table name and "(%s, ...)" placeholders are put into the text.
    values = ", ".join([row] * len(customers))
    sql = UPDATE_FROM_VALUES.format(table=connection.ops.quote_name(Customer._meta.db_table), values=values)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _add_contacts(rows, existing: set, writer) -> None:
    has_kind = {(customer_id, kind) for customer_id, kind, _n, _e in existing}
    new = []
    for row in rows:
        candidates = [(ContactPoint.Kind.PHONE, raw, e164, ext) for raw, e164, ext in row.phones] + [
            (ContactPoint.Kind.EMAIL, raw, email, "") for raw, email in row.emails
        ]
        for kind, raw, normalised, extension in candidates:
            key = (row.customer_id, kind, normalised, extension)
            if key in existing:
                continue
            existing.add(key)
            primary = (row.customer_id, kind) not in has_kind
            has_kind.add((row.customer_id, kind))
            new.append([row.customer_id, kind, raw, normalised, extension, "", primary])
    if not new:
        return
    first, now = writer.reserve(ContactPoint, len(new)), timezone.now()
    writer.write(
        ContactPoint, CONTACT_COLUMNS, [(first + offset, *values, now) for offset, values in enumerate(new)]
    )


def _add_tags(creates, updates, writer) -> None:
    rows = creates + updates
    wanted = {name.lower(): name for row in rows for name in row.tags}
    if not wanted:
        return
    tags = _tags_by_lower_name(wanted)
    missing = [Tag(name=name) for lower, name in wanted.items() if lower not in tags]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        tags = _tags_by_lower_name(wanted)
    links = {
        (row.customer_id, tags[name.lower()]) for row in rows for name in row.tags if name.lower() in tags
    }
    if updates:
        links -= set(
            TagLink.objects.filter(customer_id__in=[row.customer_id for row in updates]).values_list(
                "customer_id", "tag_id"
            )
        )
    if links:
        first = writer.reserve(TagLink, len(links))
        writer.write(
            TagLink, TAG_LINK_COLUMNS, [(first + offset, *link) for offset, link in enumerate(sorted(links))]
        )


def _tags_by_lower_name(wanted: dict) -> dict[str, int]:
    found = {}
    for pk, lower in (
        Tag.objects.annotate(lower=Lower("name"))
        .filter(lower__in=list(wanted))
        .order_by("pk")
        .values_list("pk", "lower")
    ):
        found.setdefault(lower, pk)
    return found


class _ErrorFile:
    """The rows that failed, as they were in the file plus a column saying why: fix it, import it again."""

    def __init__(self, job, header):
        self.job, self.header = job, header

    def add(self, rows):
        if not rows:
            return
        job = self.job
        if not job.error_file:
            name = default_storage.generate_filename(f"customer-jobs/import-{job.pk}-errors.csv")
            path = default_storage.path(name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8-sig", newline="") as handle:
                csv.writer(handle).writerow([*self.header, _("Row"), _("Problems")])
            job.error_file.name = name
            DataJob.objects.filter(pk=job.pk).update(error_file=name)
        with open(job.error_file.path, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            for row in rows:
                values = row.values + [""] * (len(self.header) - len(row.values))
                writer.writerow([*values, row.number, " ".join(row.problems or [_("Not imported.")])])
