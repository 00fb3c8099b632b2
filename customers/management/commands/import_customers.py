"""python manage.py import_customers FILE [--mapping JSON] [--dry-run] [--on-match update|skip|create] [--user NAME]"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from customers.imports import ImportFileError, preview
from customers.imports.files import count_data_rows, detect_encoding, detect_format, read_header
from customers.imports.rows import clean_mapping, guess_mapping
from customers.imports.runner import import_run
from customers.models import DataJob


class Command(BaseCommand):
    help = (
        "Import customers from a CSV (UTF-8, Big5 or GB18030) or XLSX file. The columns are guessed from "
        'the header unless --mapping gives them, e.g. \'{"0": "name", "1": "phone", "2": "phone", '
        '"3": "attribute:Level"}\' (targets: name, phone, email, tags, owner, lifecycle, source, '
        'attribute:KEY, or "" to ignore). --dry-run checks every row and writes nothing.'
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--mapping", default="", help="JSON object: column number (from 0) → target.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row; write nothing.")
        parser.add_argument("--on-match", default="update", choices=DataJob.OnMatch.values)
        parser.add_argument(
            "--user",
            default="",
            help="Import as this user: owner of new customers, shown on their timelines.",
        )

    def handle(self, *args, file, mapping, dry_run, on_match, user, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user called {user!r}.")
        try:
            fmt = detect_format(path, path.name)
            encoding = detect_encoding(path) if fmt == "csv" else ""
            header = read_header(path, fmt, encoding)
            columns = json.loads(mapping) if mapping else guess_mapping(header)
            columns = clean_mapping(columns, header)
        except (ImportFileError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--mapping is not valid JSON: {exc}") from None
        self.stdout.write(f"{path.name}: {fmt}{' ' + encoding if encoding else ''}")
        for index, target in sorted(columns.items(), key=lambda item: int(item[0])):
            self.stdout.write(f"  column {index} {header[int(index)]!r} → {target or '(ignored)'}")
        if dry_run:
            self._dry_run(path, fmt, encoding, columns, actor)
            return
        job = DataJob(
            kind=DataJob.Kind.IMPORT,
            status=DataJob.Status.QUEUED,
            created_by=actor,
            file_name=path.name,
            fmt=fmt,
            encoding=encoding,
            mapping=columns,
            on_match=on_match,
            total_rows=count_data_rows(path, fmt, encoding),
        )
        with open(path, "rb") as handle:
            job.file.save(f"import-{path.name[-80:]}", File(handle), save=False)
        job.save()
        job = import_run(job.pk, progress=self._progress)
        self.stdout.write("")
        self.stdout.write(
            f"Import #{job.pk} {job.status}: {job.created_count} created, {job.updated_count} updated, "
            f"{job.skipped_count} skipped, {job.failed_count} failed."
        )
        if job.error:
            self.stderr.write(job.error)
        if job.error_file:
            self.stdout.write(f"Rows that failed, with the reason: {job.error_file.path}")
        if job.status != DataJob.Status.DONE:
            raise CommandError("The import did not finish.")

    def _progress(self, job):
        self.stdout.write(f"\r  {job.processed_rows}/{job.total_rows} rows", ending="")
        self.stdout.flush()

    def _dry_run(self, path, fmt, encoding, columns, actor):
        result = preview(path=path, fmt=fmt, encoding=encoding, mapping=columns, user=actor, limit=None)
        self.stdout.write(
            f"Dry run, nothing written. {result.checked} rows: {result.new} new, {result.matches} match "
            f"an existing customer, {result.problems} with problems ({result.duplicates} duplicates in the file)."
        )
        for row in result.rows:
            if row.problems:
                self.stdout.write(f"  row {row.number}: {' '.join(row.problems)}")
