"""A manager imports a Big5 spreadsheet export through the wizard, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

BIG5_LIST = (
    "姓名,手機,Email,標籤,會員等級\n"
    "陳怡君,0912-345-678,chen@example.com,VIP,金\n"
    "林志豪,0911-111-111,,,銀\n"
    ",0933-333-333,,,\n"
    "張雅婷,12,,,\n"
).encode("cp950")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_manager_maps_previews_and_imports_a_big5_file_and_gets_the_failed_rows_back(
    log_in, manager, tmp_path, screenshot
):
    existing = CustomerFactory(name="林先生", owner=manager, phones=["0911-111-111"])
    upload = tmp_path / "名單.csv"
    upload.write_bytes(BIG5_LIST)
    page = log_in(manager)

    page.get_by_test_id("import-button").click()
    page.locator("input[type=file]").set_input_files(upload)
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("What does each column hold?")
    expect(page.get_by_test_id("column-0")).to_have_value("name")
    expect(page.get_by_test_id("column-1")).to_have_value("phone")
    expect(page.get_by_test_id("column-4")).to_have_value("attribute")
    expect(page.get_by_text("0912-345-678")).to_be_visible()
    screenshot("import-map")
    page.get_by_test_id("column-3").select_option("tags")
    page.get_by_role("button", name="Check the rows").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: nothing has been saved yet")
    expect(page.get_by_test_id("problem-count")).to_have_text("2")
    expect(page.get_by_test_id("preview-row-4")).to_contain_text("The name is missing.")
    expect(page.get_by_test_id("preview-row-5")).to_contain_text("not a")
    expect(page.get_by_test_id("preview-row-3").get_by_role("link")).to_have_text(existing.name)
    assert Customer.objects.count() == 1
    screenshot("import-preview")
    page.get_by_test_id("match-3").select_option("skip")
    page.get_by_test_id("start-import").click()

    expect(page).to_have_url(re.compile(r"/customers/jobs/\d+/$"))
    expect(page.get_by_test_id("job-status")).to_have_text("Finished")
    expect(page.get_by_test_id("created-count")).to_have_text("1")
    expect(page.get_by_test_id("skipped-count")).to_have_text("1")
    expect(page.get_by_test_id("failed-count")).to_have_text("2")
    screenshot("import-done")
    with page.expect_download() as download:
        page.get_by_test_id("error-file").click()
    errors = download.value.path().read_bytes().decode("utf-8-sig")
    assert "The name is missing." in errors and "張雅婷" in errors
    imported = Customer.objects.get(name="陳怡君")
    assert imported.custom_attributes == {"會員等級": "金"}
    assert list(imported.tags.values_list("name", flat=True)) == ["VIP"]


def test_the_progress_bar_follows_a_running_import_without_reloading(log_in, manager, page):
    from customers.models import DataJob

    job = DataJob.objects.create(
        kind="import",
        status="running",
        created_by=manager,
        total_rows=1000,
        processed_rows=100,
        file_name="big.csv",
    )
    log_in(manager)
    page.goto(f"/customers/jobs/{job.pk}/")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "10")
    page.evaluate("window.stillTheSamePage = true")

    DataJob.objects.filter(pk=job.pk).update(processed_rows=600, created_count=590, failed_count=10)
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "60")
    DataJob.objects.filter(pk=job.pk).update(
        status="done", processed_rows=1000, created_count=985, failed_count=15
    )

    expect(page.get_by_test_id("job-status")).to_have_text("Finished")
    expect(page.get_by_test_id("created-count")).to_have_text("985")
    assert page.evaluate("window.stillTheSamePage") is True


def test_manager_exports_what_the_list_shows_after_a_search(log_in, manager, rep, page):
    CustomerFactory(name="王小明", owner=rep, phones=["0912-345-678"])
    CustomerFactory(name="李大華", owner=rep, phones=["0912-345-679"])
    log_in(manager)
    page.get_by_test_id("customer-search").fill("王")
    expect(page.get_by_test_id("customer-link")).to_have_count(1)
    expect(page.get_by_test_id("export-button")).to_have_attribute("href", re.compile(r"q=%E7%8E%8B"))

    page.get_by_test_id("export-button").click()
    expect(page.get_by_test_id("export-summary")).to_have_text("1 customer: search “王”")
    page.get_by_test_id("start-export").click()
    expect(page.get_by_test_id("job-status")).to_have_text("Finished")
    with page.expect_download() as download:
        page.get_by_test_id("export-file").click()
    content = download.value.path().read_bytes().decode("utf-8-sig")
    assert "王小明" in content and "李大華" not in content
