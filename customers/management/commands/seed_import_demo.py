"""python manage.py seed_import_demo: a finished import (from a Big5 file) and export in the demo."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from crm.models import User
from customers import exports, imports
from customers.imports.runner import import_run
from customers.models import Customer, DataJob

DEMO_FILE = "展覽名單-demo.csv"
DEMO_ROWS = (
    "姓名,手機,Email,標籤,負責人,會員等級\n"
    "黃志明,0935-111-222,huang.cm@example.com,展覽名單,rep,金\n"
    "吳佩珊,0936-333-444,,展覽名單,rep,銀\n"
    '周杰,0937-555-666,chou@example.com,"展覽名單,VIP",manager,金\n'
    "鄭雅文,(02)2712-3456#21,,展覽名單,rep,\n"
    "王小明,0912-345-678,,展覽名單,,\n"
    ",0938-777-888,,展覽名單,,\n"
    "許家豪,0912-34,,展覽名單,,\n"
)


class Command(BaseCommand):
    help = (
        "Import a small Big5 trade-show list as the demo admin (two rows fail on purpose, one matches a "
        "demo customer and is skipped) and export the VIP customers. Safe to run again."
    )

    def handle(self, *args, **options):
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            self.stdout.write("No demo admin: run seed_demo first.")
            return
        if DataJob.objects.filter(kind=DataJob.Kind.IMPORT, file_name=DEMO_FILE).exists():
            self.stdout.write("The demo import is already there.")
            return
        upload = SimpleUploadedFile(DEMO_FILE, DEMO_ROWS.encode("cp950"))
        job = imports.import_upload(user=admin, uploaded=upload)
        imports.import_configure(job=job, user=admin, mapping=job.mapping, on_match=DataJob.OnMatch.SKIP)
        DataJob.objects.filter(pk=job.pk).update(status=DataJob.Status.QUEUED)
        job = import_run(job.pk)
        export = exports.export_start(
            user=admin,
            queryset=Customer.objects.filter(tags__name="VIP"),
            description="tag: VIP",
            filters={"tag": "VIP"},
            fmt=DataJob.Format.XLSX,
        )
        export.refresh_from_db()
        if export.status == DataJob.Status.QUEUED:  # no eager Celery and no worker yet: do it here
            exports.export_run(export.pk)
        self.stdout.write(
            f"Demo import: {job.created_count} created, {job.skipped_count} skipped, {job.failed_count} failed; "
            "demo export of the VIP customers done."
        )
