"""The import wizard and the job pages, as a manager uses them, and who may not."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, DataJob
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_file(rows, name="list.csv", encoding="utf-8"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding))


def test_a_manager_uploads_maps_previews_and_imports_a_list(
    login, manager, rep, django_capture_on_commit_callbacks
):
    existing = CustomerFactory(name="老客戶", owner=manager, phones=["0911-111-111"])
    client = login(manager)
    assert 'data-testid="import-button"' in client.get(reverse("customers:list")).content.decode()
    rows = [
        ["客戶名稱", "手機", "市話", "Email", "業務", "VIP等級"],
        ["新客戶", "0912-345-678", "02-2345-6789", "a@example.com", "rep", "金"],
        ["老客戶", "0911111111", "", "", "", "銀"],
        ["", "0933-333-333", "", "", "", ""],
    ]
    response = client.post(reverse("customers:import"), {"file": csv_file(rows, encoding="cp950")})
    job = DataJob.objects.get()
    assert response.url == reverse("customers:import-map", args=[job.pk])
    page = client.get(response.url).content.decode()
    assert "客戶名稱" in page and "0912-345-678" in page
    response = client.post(
        response.url,
        {
            "column_0": "name",
            "column_1": "phone",
            "column_2": "phone",
            "column_3": "email",
            "column_4": "owner",
            "column_5": "attribute",
            "attribute_5": "VIP",
            "on_match": "update",
        },
    )
    assert response.url == reverse("customers:import-preview", args=[job.pk])
    page = client.get(response.url).content.decode()
    assert "The name is missing." in page
    assert f'href="/customers/{existing.pk}/"' in page
    assert Customer.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(response.url, {"match_3": "update"})
    assert response.url == reverse("customers:job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.created_count, job.updated_count, job.failed_count) == ("done", 1, 1, 1)
    new = Customer.objects.get(name="新客戶")
    assert new.owner == rep and new.custom_attributes == {"VIP": "金"} and new.contact_points.count() == 3
    existing.refresh_from_db()
    assert existing.custom_attributes == {"VIP": "銀"}
    progress = client.get(
        reverse("customers:job", args=[job.pk]), headers={"HX-Request": "true", "HX-Target": "job-progress"}
    )
    body = progress.content.decode()
    assert 'data-status="done"' in body and "hx-trigger" not in body
    errors = client.get(reverse("customers:job-errors", args=[job.pk]))
    assert "The name is missing." in b"".join(errors.streaming_content).decode("utf-8-sig")


def test_a_running_job_page_polls_for_progress(login, manager):
    job = DataJob.objects.create(
        kind="import",
        status="running",
        created_by=manager,
        total_rows=200,
        processed_rows=50,
        file_name="x.csv",
    )
    body = login(manager).get(reverse("customers:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in body and "25%" in body


def test_a_bad_file_gets_a_clear_message_and_no_job(login, manager):
    response = login(manager).post(
        reverse("customers:import"), {"file": SimpleUploadedFile("x.xlsx", b"not a workbook")}
    )
    assert response.status_code == 200
    assert "not an Excel workbook" in response.content.decode()
    assert not DataJob.objects.exists()


def test_reps_and_agents_may_not_import(login, rep, agent):
    for user in (rep, agent):
        assert login(user).get(reverse("customers:import")).status_code == 403


def test_nobody_else_sees_someone_elses_import(login, manager, admin_user, rep):
    job = DataJob.objects.create(kind="import", status="done", created_by=admin_user, file_name="x.csv")
    assert login(manager).get(reverse("customers:job", args=[job.pk])).status_code == 404
    assert login(manager).get(reverse("customers:import-map", args=[job.pk])).status_code == 404
    assert login(rep).get(reverse("customers:job-errors", args=[job.pk])).status_code == 404


def test_the_job_list_shows_an_admin_every_job_and_others_their_own(
    login, manager, admin_user, django_assert_num_queries
):
    DataJob.objects.create(
        kind="export", status="done", created_by=manager, description="search “王”", processed_rows=12
    )
    DataJob.objects.create(kind="import", status="done", created_by=admin_user, file_name="admin.csv")
    client = login(admin_user)
    client.get(reverse("customers:jobs"))
    with django_assert_num_queries(6):  # session, user, role, jobs with their users, two for permissions
        body = client.get(reverse("customers:jobs")).content.decode()
    assert "search “王”" in body and "admin.csv" in body
    body = login(manager).get(reverse("customers:jobs")).content.decode()
    assert "search “王”" in body and "admin.csv" not in body
