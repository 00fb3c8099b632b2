"""A sales rep writes a quote for a deal, looks at it as the customer will, and records the acceptance."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from sales.models import Deal, Quote
from tests.sales.factories import DealFactory

pytestmark = pytest.mark.browser


def test_rep_writes_a_quote_prints_it_and_records_the_acceptance(log_in, rep, customer, screenshot):
    deal = DealFactory(customer=customer, owner=rep, title="ERP rollout", amount=Decimal("120000"))
    page = log_in(rep)
    page.goto(f"/sales/deals/{deal.pk}/")
    page.get_by_test_id("quote-new").click()

    page.locator("#id_lines-0-description").fill("ERP 授權（每人）")
    page.locator("#id_lines-0-quantity").fill("3")
    page.locator("#id_lines-0-unit_price").fill("333.5")
    page.locator("#id_lines-0-discount_percent").fill("10")
    page.locator("#id_discount_percent").fill("5")
    page.get_by_role("button", name="Create quote").click()

    document = page.get_by_test_id("quote-document")
    expect(document.get_by_test_id("quote-customer")).to_have_text("王小明")
    expect(document.get_by_test_id("quote-line")).to_have_count(1)
    # 1,000.50 − 10 % = 900.45 → 900; −5 % = 45.00 → 855; +5 % tax 42.75 → 43: TWD 898
    expect(document.get_by_test_id("quote-total")).to_have_text("TWD 898")
    screenshot("quote-page")

    pdf = page.request.get(page.get_by_test_id("quote-pdf").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("quote-accept").click()
    expect(page.get_by_role("status").filter(has_text="Accepted on")).to_be_visible()
    quote = Quote.objects.get()
    assert quote.status == Quote.Status.ACCEPTED and quote.decided_by == rep
    deal.refresh_from_db()
    assert deal.status == Deal.Status.WON and deal.amount == Decimal("855.00")
