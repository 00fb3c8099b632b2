"""A manager imports the shop's orders, then a rep works the Leads page by score, in a real browser."""

import pytest
from playwright.sync_api import expect

from reports import scoring
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

CSV = (
    "order_number,date,channel,amount,phone\n"
    "SHOP-1,2026-11-20,store,1200,0912-345-678\n"
    "SHOP-2,2026-11-21,line,800,0912-345-678\n"
    "SHOP-3,someday,store,50,0912-345-678\n"
)


def test_a_manager_imports_orders_and_sees_them_on_the_customer_page(
    log_in, page, manager, customer, tmp_path
):
    customer.team = manager.team
    customer.save()
    upload = tmp_path / "orders.csv"
    upload.write_text(CSV, encoding="utf-8")
    log_in(manager)
    page.goto("/sales/orders/")
    page.get_by_test_id("order-import-link").click()
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    result = page.get_by_test_id("order-import-result")
    expect(result).to_contain_text("2 orders recorded")
    expect(page.get_by_test_id("order-import-errors")).to_contain_text("someday")
    page.goto(f"/customers/{customer.pk}/")
    expect(page.get_by_test_id("customer-orders")).to_contain_text("SHOP-2")
    expect(page.get_by_test_id("customer-order-totals")).to_contain_text("TWD 2,000")


def test_a_rep_sorts_and_filters_leads_by_score_without_reloading(log_in, page, rep):
    warm = CustomerFactory(name="Warm lead", owner=rep, phones=["0912-000-001"], emails=["w@example.com"])
    cold = CustomerFactory(name="Cold lead", owner=rep)
    scoring.scores_recompute([warm.pk, cold.pk])
    log_in(rep)
    page.goto("/sales/leads/")
    rows = page.get_by_test_id("lead-row")
    expect(rows.first).to_contain_text("Warm lead")
    page.get_by_label("Sort").select_option("score")
    expect(rows.first).to_contain_text("Cold lead")
    page.get_by_label("Score from").fill("10")
    page.get_by_label("Score from").press("Tab")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Warm lead")
    assert "min_score=10" in page.url
