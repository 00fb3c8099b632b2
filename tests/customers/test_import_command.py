"""python manage.py import_customers, as an admin runs it on the server."""

import io

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, DataJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def big5_file(tmp_path):
    path = tmp_path / "名單.csv"
    path.write_bytes("姓名,電話,備註\n陳怡君,0912-345-678,老客戶\n林志豪,12,\n".encode("cp950"))
    return path


def test_a_dry_run_reports_the_problems_and_writes_nothing(big5_file):
    out = io.StringIO()
    call_command("import_customers", str(big5_file), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "cp950" in text
    assert "2 rows: 1 new, 0 match an existing customer, 1 with problems" in text
    assert "row 3:" in text
    assert not Customer.objects.exists() and not DataJob.objects.exists()


def test_the_command_imports_with_a_given_mapping_as_a_user(big5_file, admin_user):
    out = io.StringIO()
    call_command(
        "import_customers",
        str(big5_file),
        "--mapping",
        '{"0": "name", "1": "phone", "2": "attribute:Note"}',
        "--user",
        "admin",
        stdout=out,
    )
    customer = Customer.objects.get()
    assert (customer.name, customer.owner, customer.custom_attributes) == (
        "陳怡君",
        admin_user,
        {"Note": "老客戶"},
    )
    assert "1 created, 0 updated, 0 skipped, 1 failed" in out.getvalue()


def test_a_mapping_without_a_name_is_refused(big5_file):
    with pytest.raises(CommandError, match="name"):
        call_command("import_customers", str(big5_file), "--mapping", '{"1": "phone"}', stdout=io.StringIO())


def test_the_demo_seed_imports_a_big5_list_and_exports_once(
    admin_user, rep, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_import_demo", stdout=io.StringIO())
        call_command("seed_import_demo", stdout=io.StringIO())
    imported = DataJob.objects.get(kind="import")
    assert (imported.created_count, imported.skipped_count, imported.failed_count) == (5, 0, 2)
    assert Customer.objects.get(name="周杰").owner == manager
    assert DataJob.objects.get(kind="export").status == "done"
