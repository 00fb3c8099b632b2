"""Customer import: upload a CSV or XLSX file, map its columns, preview, import in the background.

`import_upload` stores the file and reads its header; `import_configure` saves the mapping;
`import_start` saves the per-match choices and enqueues the Celery task, which calls
`runner.import_run`; `import_resume` goes on after a failure.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import DataJob
from .files import ImportFileError, count_data_rows, detect_encoding, detect_format, read_header
from .rows import clean_mapping, guess_mapping
from .runner import preview

__all__ = [
    "ImportFileError",
    "can_import",
    "data_job_files_purge",
    "import_configure",
    "import_header",
    "import_resume",
    "import_start",
    "import_upload",
    "preview",
]

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def can_import(user) -> bool:
    return (
        user.is_authenticated
        and user.has_perm("customers.import_customers")
        and user.has_perm("customers.add_customer")
    )


def _check(user):
    if user is not None and not can_import(user):
        raise PermissionDenied(_("You may not import customers."))


@transaction.atomic
def import_upload(*, user, uploaded) -> DataJob:
    """Keep the uploaded file as a new import job, with its format, encoding, row count and a first
    guess of the column mapping. Raises ValidationError with the reason when it cannot be read."""
    _check(user)
    limit = getattr(settings, "CUSTOMERS_IMPORT_MAX_BYTES", MAX_UPLOAD_BYTES)
    if uploaded.size == 0:
        raise ValidationError(_("The file is empty."))
    if uploaded.size > limit:
        raise ValidationError(
            _("The file is larger than %(size)d MB: split it into smaller files.") % {"size": limit // 2**20}
        )
    job = DataJob(kind=DataJob.Kind.IMPORT, created_by=user, file_name=uploaded.name[:255])
    job.file.save(f"import-{uploaded.name[-80:]}", uploaded, save=False)
    try:
        _inspect(job)
    except ImportFileError as exc:
        job.file.delete(save=False)
        raise ValidationError(str(exc)) from None
    job.save()
    return job


def _inspect(job: DataJob) -> None:
    path = job.file.path
    job.fmt = detect_format(path, job.file_name)
    job.encoding = detect_encoding(path) if job.fmt == DataJob.Format.CSV else ""
    header = read_header(path, job.fmt, job.encoding)
    job.total_rows = count_data_rows(path, job.fmt, job.encoding)
    if job.total_rows == 0:
        raise ImportFileError(_("The file has a header row but no customers under it."))
    job.mapping = guess_mapping(header)


def import_header(job: DataJob) -> list[str]:
    return read_header(job.file.path, job.fmt, job.encoding)


def import_configure(*, job: DataJob, user, mapping: dict, on_match: str) -> DataJob:
    """Save the column mapping and what to do with rows that match a customer."""
    _check_job(job, user)
    job.mapping = clean_mapping(mapping, import_header(job))
    if on_match not in DataJob.OnMatch.values:
        raise ValidationError(_("Choose what to do with rows that match an existing customer."))
    job.on_match = on_match
    job.save(update_fields=["mapping", "on_match"])
    return job


def import_start(*, job: DataJob, user, row_choices: dict | None = None) -> DataJob:
    """Queue the import with the per-row choices for matches made on the preview."""
    _check_job(job, user)
    from ..tasks import import_customers_task

    choices = {
        str(int(number)): choice
        for number, choice in (row_choices or {}).items()
        if str(number).isdigit() and choice in DataJob.OnMatch.values
    }
    with transaction.atomic():
        updated = DataJob.objects.filter(pk=job.pk, status=DataJob.Status.DRAFT).update(
            status=DataJob.Status.QUEUED, row_choices=choices
        )
        if updated:
            transaction.on_commit(lambda: import_customers_task.delay(job_id=job.pk))
    job.refresh_from_db()
    return job


def import_resume(*, job: DataJob, user) -> DataJob:
    """Go on with an import that stopped: it starts after its last saved batch."""
    if job.created_by_id != getattr(user, "pk", None):
        _check(user)
    from ..tasks import import_customers_task

    with transaction.atomic():
        updated = DataJob.objects.filter(pk=job.pk, status=DataJob.Status.FAILED).update(
            status=DataJob.Status.QUEUED, finished_at=None
        )
        if updated:
            transaction.on_commit(lambda: import_customers_task.delay(job_id=job.pk))
    job.refresh_from_db()
    return job


def _check_job(job, user):
    _check(user)
    if job.kind != DataJob.Kind.IMPORT or job.status != DataJob.Status.DRAFT:
        raise ValidationError(_("This import has already started."))


def data_job_files_purge(*, older_than_days: int) -> int:
    """Delete the uploaded, error and exported files of imports and exports finished more than
    `older_than_days` ago: they hold personal data. The jobs stay, as the record of who did what."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    cutoff = timezone.now() - timedelta(days=older_than_days)
    purged = 0
    ended = Q(finished_at__lt=cutoff) | Q(status=DataJob.Status.DRAFT, created_at__lt=cutoff)
    jobs = DataJob.objects.filter(ended).exclude(file="", error_file="", result_file="")
    for job in jobs.iterator():
        for field in (job.file, job.error_file, job.result_file):
            if field:
                field.delete(save=False)
        job.save(update_fields=["file", "error_file", "result_file"])
        purged += 1
    return purged
