"""Exporting customer lists: who may, what they get (masked or not), the access log, CSV injection."""

import csv

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from crm.models import AccessLog
from customers import exports
from customers.models import Customer, DataJob
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def read_csv(job):
    with open(job.result_file.path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def start(user, queryset=None, fmt="csv", capture=None, description="All customers I can see"):
    with capture(execute=True):
        job = exports.export_start(
            user=user, queryset=queryset or Customer.objects.all(), description=description, fmt=fmt
        )
    job.refresh_from_db()
    return job


def test_a_manager_exports_their_teams_customers_in_full_and_it_is_logged(
    manager, rep, other_rep, django_capture_on_commit_callbacks
):
    CustomerFactory(
        name="王小明", owner=rep, phones=["0912-345-678"], emails=["wang@example.com"], tags=["VIP"]
    )
    from crm import roles
    from tests.factories import TeamFactory, UserFactory

    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=TeamFactory(name="Elsewhere"))
    CustomerFactory(name="Not theirs", owner=outsider, phones=["0987-654-321"])
    job = start(manager, capture=django_capture_on_commit_callbacks, description="tag: VIP")
    assert job.status == DataJob.Status.DONE and job.processed_rows == 1
    rows = read_csv(job)
    assert rows[0][:4] == ["Name", "Phone", "E-mail", "Tags"]
    assert rows[1][:5] == ["王小明", "'+886912345678", "wang@example.com", "VIP", "rep"]
    log = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert (log.user, log.count) == (manager, 1)
    assert log.filters["filter"] == "tag: VIP" and log.filters["contacts"] == "unmasked"


def test_contacts_are_masked_for_someone_who_may_export_but_not_see_them(
    rep, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    rep.user_permissions.add(Permission.objects.get(codename="export_customers"))
    rep.groups.first().permissions.remove(Permission.objects.get(codename="view_contact_details"))
    rep = type(rep).objects.get(pk=rep.pk)
    CustomerFactory(name="王小明", owner=rep, phones=["0912-345-678"], emails=["wang@example.com"])
    job = start(rep, capture=django_capture_on_commit_callbacks)
    row = read_csv(job)[1]
    assert "345" not in row[1] and row[1].endswith("678")
    assert row[2] == "w•••@example.com"
    assert AccessLog.objects.get().filters["contacts"] == "masked"


def test_users_without_the_export_permission_cannot_export(rep, agent, login):
    for user in (rep, agent):
        with pytest.raises(PermissionDenied):
            exports.export_start(user=user, queryset=Customer.objects.all(), description="all")
        assert login(user).get(reverse("customers:export")).status_code == 403
        assert login(user).post(reverse("customers:export"), {"fmt": "csv"}).status_code == 403
    assert not DataJob.objects.exists() and not AccessLog.objects.exists()


@pytest.mark.parametrize("payload", ["=CMD|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", "\tTab", "\rReturn"])
def test_formulas_in_exported_csv_cells_are_neutralised(
    admin_user, payload, django_capture_on_commit_callbacks
):
    CustomerFactory(name=payload, owner=admin_user)
    rows = read_csv(start(admin_user, capture=django_capture_on_commit_callbacks))
    assert rows[1][0] == "'" + payload


def test_xlsx_export_writes_formula_like_names_as_text(admin_user, django_capture_on_commit_callbacks):
    CustomerFactory(name="=1+1", owner=admin_user, phones=["0912-345-678"])
    job = start(admin_user, fmt="xlsx", capture=django_capture_on_commit_callbacks)
    sheet = openpyxl.load_workbook(job.result_file.path).active
    cell = sheet["A2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")
    assert sheet["B2"].value == "+886912345678"


def test_the_list_page_export_takes_the_current_filter_and_downloads(
    login, manager, rep, django_capture_on_commit_callbacks
):
    CustomerFactory(name="王小明", owner=rep, tags=["VIP"])
    CustomerFactory(name="李大華", owner=rep)
    client = login(manager)
    listing = client.get(reverse("customers:list"), {"q": "王"}).content.decode()
    assert 'href="/customers/export/?q=%E7%8E%8B"' in listing
    searched = client.get(
        reverse("customers:list"), {"q": "王"}, headers={"HX-Request": "true", "HX-Target": "customer-table"}
    ).content.decode()
    assert 'href="/customers/export/?q=%E7%8E%8B" data-testid="export-button" hx-swap-oob="true"' in searched
    confirm = client.get(reverse("customers:export"), {"q": "王"}).content.decode()
    assert "1 customer: search “王”" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("customers:export"), {"q": "王", "fmt": "csv"})
    job = DataJob.objects.get()
    assert response.url == reverse("customers:job", args=[job.pk])
    download = client.get(reverse("customers:job-download", args=[job.pk]))
    content = b"".join(download.streaming_content).decode("utf-8-sig")
    assert "王小明" in content and "李大華" not in content
    assert AccessLog.objects.get().filters["q"] == "王"
    audit = login(manager).get(reverse("customers:jobs")).content.decode()
    assert "search “王”" in audit


def test_an_admin_sees_who_exported_what_but_cannot_download_it(
    login, admin_user, manager, django_capture_on_commit_callbacks
):
    job = start(manager, capture=django_capture_on_commit_callbacks, description="search “王”")
    client = login(admin_user)
    assert "search “王”" in client.get(reverse("customers:jobs"), {"kind": "export"}).content.decode()
    assert client.get(reverse("customers:job", args=[job.pk])).status_code == 200
    assert client.get(reverse("customers:job-download", args=[job.pk])).status_code == 404
    access = client.get(reverse("manage:audit"), {"tab": "access"}).content.decode()
    assert "search “王”" in access


def test_an_export_costs_the_same_queries_for_ten_customers_or_thirty(
    admin_user, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for total in (10, 10, 30):  # the first export also fills per-process caches (content types)
        for index in range(total - Customer.objects.count()):
            CustomerFactory(
                name=f"C{index}", owner=admin_user, phones=[f"0912-345-{index:03d}"], tags=["VIP"]
            )
        with CaptureQueriesContext(connection) as queries:
            start(admin_user, capture=django_capture_on_commit_callbacks)
        counts.append(len(queries))
    assert counts[1] == counts[2]


def test_an_export_cannot_be_downloaded_once_the_permission_is_taken_away(
    login, manager, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group

    job = start(manager, capture=django_capture_on_commit_callbacks)
    Group.objects.get(name="Manager").permissions.remove(Permission.objects.get(codename="export_customers"))
    assert login(manager).get(reverse("customers:job-download", args=[job.pk])).status_code == 403


def test_files_of_old_jobs_are_deleted_and_the_record_of_the_export_stays(
    login, manager, django_capture_on_commit_callbacks, settings
):
    import datetime as dt
    from pathlib import Path

    from django.utils import timezone

    from customers.tasks import data_job_files_purge_task

    CustomerFactory(name="王小明", owner=manager)
    old = start(manager, capture=django_capture_on_commit_callbacks)
    recent = start(manager, capture=django_capture_on_commit_callbacks)
    DataJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - dt.timedelta(days=31))
    path = Path(old.result_file.path)
    settings.CUSTOMERS_DATA_JOB_FILES_DAYS = 30

    assert data_job_files_purge_task.delay().get() == 1

    old.refresh_from_db()
    assert not old.result_file and not path.exists()
    assert DataJob.objects.get(pk=recent.pk).result_file
    page = login(manager).get(reverse("customers:job", args=[old.pk])).content.decode()
    assert "have been deleted" in page and 'data-testid="export-file"' not in page
    assert AccessLog.objects.count() == 2
