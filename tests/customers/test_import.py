"""Importing customer lists: encodings, the checks a preview shows, batches, matches, resuming."""

import csv
import io
import os
import random
import string

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from customers import imports
from customers.imports import runner
from customers.models import ContactPoint, Customer, DataJob, Interaction
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TRADITIONAL = ["陳怡君", "林志豪", "張雅婷"]
SIMPLIFIED = ["陈怡君", "刘美玲", "张伟"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_bytes(rows, encoding="utf-8"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(user, content, name="customers.csv"):
    return imports.import_upload(user=user, uploaded=SimpleUploadedFile(name, content))


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Configure, start and (through the on-commit callback, eager Celery) run an import."""

    def run_import(job, user, *, on_match="update", mapping=None, row_choices=None):
        imports.import_configure(job=job, user=user, mapping=mapping or job.mapping, on_match=on_match)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                imports.import_start(job=job, user=user, row_choices=row_choices)
        finally:
            job.refresh_from_db()
        return job

    return run_import


@pytest.mark.parametrize(
    ("encoding", "names"),
    [
        ("utf-8", TRADITIONAL),
        ("utf-8-sig", SIMPLIFIED),
        ("cp950", TRADITIONAL),
        ("gb18030", SIMPLIFIED),
        ("gb18030", TRADITIONAL),
    ],
)
def test_chinese_names_come_in_right_whatever_the_file_encoding(admin_user, run, encoding, names):
    rows = [["姓名", "電話"]] + [[name, f"0912-000-00{i}"] for i, name in enumerate(names)]
    job = upload(admin_user, csv_bytes(rows, encoding))
    assert job.total_rows == 3
    assert job.mapping == {"0": "name", "1": "phone"}
    job = run(job, admin_user)
    assert job.status == DataJob.Status.DONE, job.error
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(names)


def test_xlsx_rows_are_imported_with_numbers_typed_as_numbers(admin_user, run):
    content = xlsx_bytes(
        [["Name", "Mobile", "Email", "Tags"], ["王小明", 912345678, "Wang@Example.com", "VIP, 北部"]]
    )
    job = upload(admin_user, content, "list.xlsx")
    assert job.fmt == "xlsx"
    job = run(job, admin_user)
    customer = Customer.objects.get()
    assert job.created_count == 1
    assert set(customer.contact_points.values_list("normalised", flat=True)) == {
        "+886912345678",
        "wang@example.com",
    }
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "北部"]
    assert customer.owner == admin_user and customer.team == admin_user.team
    assert customer.interactions.get().summary == "Imported from list.xlsx"


def test_a_formula_in_a_workbook_cell_is_imported_as_its_value_never_as_a_formula(admin_user, run):
    content = xlsx_bytes(
        [["Name", "Phone"], ['=HYPERLINK("http://evil","x")', "0912-345-678"], ["王小明", "0912-345-679"]]
    )
    job = upload(admin_user, content, "list.xlsx")
    run(job, admin_user)
    # Excel never computed the cell (openpyxl wrote it), so there is no value: the name is missing.
    assert list(Customer.objects.values_list("name", flat=True)) == ["王小明"]


def test_the_preview_shows_each_rows_problems_before_anything_is_written(admin_user, rep):
    CustomerFactory(name="Existing", owner=rep, phones=["0911-111-111"])
    rows = [
        ["Name", "Phone", "Phone 2", "Owner", "Lifecycle"],
        ["Good", "0912-345-678", "", "rep", "Customer"],
        ["", "0922-222-222", "", "", ""],
        ["Bad phone", "12", "", "", ""],
        ["Nobody's", "0933-333-333", "", "ghost", ""],
        ["Twice", "0912 345 678", "", "", ""],
        ["Known", "+886 911 111 111", "", "", ""],
        ["Odd stage", "", "", "", "someday"],
    ]
    job = upload(admin_user, csv_bytes(rows))
    assert job.mapping["2"] == "phone"
    result = imports.preview(
        path=job.file.path, fmt=job.fmt, encoding=job.encoding, mapping=job.mapping, user=admin_user
    )
    problems = {row.number: " ".join(row.problems) for row in result.rows}
    assert problems[2] == ""
    assert "name is missing" in problems[3]
    assert "not a valid phone number" in problems[4] or "not a phone number" in problems[4]
    assert "Unknown owner" in problems[5]
    assert "row 2" in problems[6]
    assert [row.match_ids for row in result.rows if row.number == 7] == [
        [Customer.objects.get(name="Existing").pk]
    ]
    assert "Unknown lifecycle" in problems[8]
    assert (result.new, result.matches, result.problems, result.duplicates) == (1, 1, 5, 1)
    assert Customer.objects.count() == 1


def test_matches_are_updated_skipped_or_duplicated_as_chosen_row_by_row(admin_user, rep, run):
    first = CustomerFactory(name="First", owner=rep, phones=["0911-111-111"], tags=["Old"])
    second = CustomerFactory(name="Second", owner=rep, emails=["second@example.com"])
    third = CustomerFactory(name="Third", owner=rep, phones=["0933-333-333"])
    rows = [
        ["Name", "Phone", "Email", "Tags", "Level"],
        ["First renamed", "0911111111", "first@example.com", "New", "Gold"],
        ["Second", "", "SECOND@example.com", "", ""],
        ["Third again", "0933-333-333", "", "", ""],
    ]
    job = upload(admin_user, csv_bytes(rows))
    job = run(job, admin_user, on_match="update", row_choices={"3": "skip", "4": "create"})
    assert (job.created_count, job.updated_count, job.skipped_count, job.failed_count) == (1, 1, 1, 0)
    first.refresh_from_db()
    assert first.name == "First renamed"
    assert first.custom_attributes == {"Level": "Gold"}
    assert sorted(first.tags.values_list("name", flat=True)) == ["New", "Old"]
    assert first.contact_points.get(kind="email").is_primary
    assert first.contact_points.filter(kind="phone").count() == 1
    assert first.interactions.filter(summary__startswith="Updated by the import").exists()
    assert Customer.objects.filter(name="Third again").exists()
    third.refresh_from_db()
    assert third.name == "Third"
    assert not second.interactions.filter(summary__contains="import").exists()


def test_failed_rows_go_to_an_error_file_that_can_be_fixed_and_imported_again(admin_user, run):
    rows = [["Name", "Phone"], ["Good", "0912-345-678"], ["", "0922-222-222"], ["Bad", "abc"]]
    job = upload(admin_user, csv_bytes(rows))
    job = run(job, admin_user)
    assert (job.created_count, job.failed_count) == (1, 2)
    with open(job.error_file.path, encoding="utf-8-sig") as handle:
        errors = list(csv.reader(handle))
    assert errors[0] == ["Name", "Phone", "Row", "Problems"]
    assert [e[:3] for e in errors[1:]] == [["", "0922-222-222", "3"], ["Bad", "abc", "4"]]
    errors[1][0] = "Fixed name"
    errors[2][1] = "0933-333-333"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(errors)
    again = upload(admin_user, buffer.getvalue().encode("utf-8-sig"), "fixed.csv")
    assert again.mapping == {"0": "name", "1": "phone", "2": "", "3": ""}
    again = run(again, admin_user)
    assert (again.created_count, again.failed_count) == (2, 0)


def test_a_row_the_database_refuses_is_reported_and_the_rest_of_its_batch_is_saved(
    admin_user, run, monkeypatch
):
    rows = [
        ["Name", "Phone"],
        ["Good", "0912-345-678"],
        ["Too long", "0912-345-679"],
        ["Also good", "0912-345-670"],
    ]
    job = upload(admin_user, csv_bytes(rows))
    real_write = runner._write

    def refuse_long_names(batch, context):
        if any(row.name == "Too long" for row in batch):
            Customer.objects.create(name="x" * 300)  # longer than the column: the database refuses
        real_write(batch, context)

    monkeypatch.setattr(runner, "_write", refuse_long_names)
    job = run(job, admin_user)
    assert (job.created_count, job.failed_count) == (2, 1)
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Also good", "Good"]
    assert ContactPoint.objects.count() == 2
    assert Interaction.objects.count() == 2


def test_an_import_that_crashed_resumes_after_its_last_saved_batch(
    admin_user, run, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(runner, "BATCH_ROWS", 2)
    rows = [["Name", "Phone"]] + [[f"C{i}", f"0912-345-{i:03d}"] for i in range(5)]
    job = upload(admin_user, csv_bytes(rows))
    real_write, calls = runner._write, []

    def crash_on_second_batch(batch, context):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        real_write(batch, context)

    monkeypatch.setattr(runner, "_write", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        run(job, admin_user)
    job.refresh_from_db()
    assert job.status == DataJob.Status.FAILED and job.processed_rows == 2
    assert "resume" in job.error
    assert Customer.objects.count() == 2
    monkeypatch.setattr(runner, "_write", real_write)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_resume(job=job, user=admin_user)
    job.refresh_from_db()
    assert job.status == DataJob.Status.DONE
    assert (job.processed_rows, job.created_count, job.failed_count) == (5, 5, 0)
    assert sorted(Customer.objects.values_list("name", flat=True)) == [f"C{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("header.csv", b"Name,Phone\n", "no customers"),
        ("fake.xlsx", b"Name,Phone\nA,1\n", "not an Excel workbook"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, "cannot be opened"),
        ("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "xls"),
        ("garbage.csv", os.urandom(10 * 1024 * 1024), "does not look like"),
    ],
)
def test_files_that_are_not_customer_lists_are_refused_with_a_reason(admin_user, name, content, message):
    with pytest.raises(ValidationError) as error:
        upload(admin_user, content, name)
    assert message in " ".join(error.value.messages)
    assert not DataJob.objects.exists()


def test_a_mapping_without_a_name_column_is_refused(admin_user):
    job = upload(admin_user, csv_bytes([["Phone", "Note"], ["0912-345-678", "x"]]))
    with pytest.raises(ValidationError, match="name"):
        imports.import_configure(job=job, user=admin_user, mapping=job.mapping, on_match="update")


def test_only_users_allowed_to_import_may_upload(rep, manager):
    with pytest.raises(PermissionDenied):
        upload(rep, csv_bytes([["Name"], ["A"]]))
    assert upload(manager, csv_bytes([["Name"], ["A"]])).created_by == manager


def test_a_rep_cannot_update_a_customer_they_cannot_see(manager, other_team, run):
    from crm import roles
    from tests.factories import UserFactory

    stranger = UserFactory(username="stranger", role=roles.SALES_REP, team=other_team)
    hidden = CustomerFactory(name="Hidden", owner=stranger, phones=["0987-654-321"])
    job = upload(manager, csv_bytes([["Name", "Phone"], ["Overwrite", "0987654321"]]))
    job = run(job, manager, on_match="update")
    hidden.refresh_from_db()
    assert hidden.name == "Hidden"
    assert job.failed_count == 1


def test_a_duplicate_of_a_row_in_an_earlier_batch_is_reported_not_imported_twice(
    admin_user, run, monkeypatch
):
    monkeypatch.setattr(runner, "BATCH_ROWS", 2)
    rows = [["Name", "Phone"], ["A", "0912-345-678"], ["B", "0912-345-679"], ["A again", "+886912345678"]]
    job = run(upload(admin_user, csv_bytes(rows)), admin_user, on_match="update")
    assert (job.created_count, job.updated_count, job.failed_count) == (2, 0, 1)
    with open(job.error_file.path, encoding="utf-8-sig") as handle:
        assert "Same phone or e-mail as an earlier row of the file." in handle.read()
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["A", "B"]


def test_a_task_delivered_twice_does_not_import_a_batch_twice(admin_user, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_ROWS", 2)
    rows = [["Name", "Phone"]] + [[f"C{i}", f"0912-345-{i:03d}"] for i in range(4)]
    job = upload(admin_user, csv_bytes(rows))
    imports.import_configure(job=job, user=admin_user, mapping=job.mapping, on_match="update")
    DataJob.objects.filter(pk=job.pk).update(status=DataJob.Status.RUNNING)
    real_find_matches = runner.find_matches

    def twin_finishes_first(batch, *, user):
        # While this worker checks its first batch, its twin commits both batches.
        DataJob.objects.filter(pk=job.pk).update(processed_rows=4, created_count=4)
        return real_find_matches(batch, user=user)

    monkeypatch.setattr(runner, "find_matches", twin_finishes_first)
    runner.import_run(job.pk)
    job.refresh_from_db()
    assert not Customer.objects.exists()  # this worker wrote nothing
    assert (job.processed_rows, job.created_count) == (4, 4)


def test_ten_megabytes_of_text_without_line_breaks_is_refused_as_malformed(admin_user):
    garbage = "".join(
        random.Random(3).choices(string.ascii_letters + " ", k=10 * 1024 * 1024)
    ).encode()  # one 10 MB cell
    with pytest.raises(ValidationError, match="malformed"):
        upload(admin_user, garbage, "garbage.csv")


def test_text_garbage_with_line_breaks_reaches_the_mapping_step_and_stops_there(admin_user):
    rng = random.Random(4)
    lines = ["".join(rng.choices(string.ascii_letters, k=rng.randint(1, 30))) for _ in range(2000)]
    job = upload(admin_user, "\n".join(lines).encode(), "garbage.csv")
    assert "name" not in job.mapping.values()
    with pytest.raises(ValidationError, match="exactly one column for the customer's name"):
        imports.import_configure(job=job, user=admin_user, mapping=job.mapping, on_match="update")


def test_rows_with_fewer_or_more_cells_than_the_header_are_read_as_far_as_they_go(admin_user, run):
    content = b"Name,Phone,Email\nShort row\nLong row,0912-345-678,a@example.com,extra,cells\n"
    job = run(upload(admin_user, content), admin_user)
    assert (job.created_count, job.failed_count) == (2, 0)
    assert Customer.objects.get(name="Long row").contact_points.count() == 2


def test_an_import_queued_by_someone_who_lost_the_permission_stops_with_a_reason(manager, monkeypatch):
    job = upload(manager, csv_bytes([["Name"], ["A"]]))
    imports.import_configure(job=job, user=manager, mapping=job.mapping, on_match="update")
    DataJob.objects.filter(pk=job.pk).update(status=DataJob.Status.QUEUED)
    manager.is_active = False
    manager.save()
    job = runner.import_run(job.pk)
    assert job.status == DataJob.Status.FAILED and "may no longer import" in job.error
    assert not Customer.objects.exists()
