"""A manager reviews a suggested duplicate, merges it on the side-by-side screen, then undoes it."""

import re

import pytest
from playwright.sync_api import expect

from customers import dedup
from customers.models import Customer
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def duplicates(rep):
    first = CustomerFactory(
        name="王小明", owner=rep, phones=["0912-345-678"], emails=["wang@example.com"], tags=["VIP"]
    )
    second = CustomerFactory(name="王曉明", owner=rep, phones=["+886 912 345 678"], tags=["LINE"])
    second.source = "LINE campaign"
    second.save()
    InteractionFactory(customer=first, summary="Asked for the price list")
    InteractionFactory(customer=second, summary="Joined via LINE coupon")
    dedup.duplicates_scan()
    return first, second


def test_manager_merges_a_suggested_duplicate_choosing_values_and_undoes_it(
    log_in, manager, duplicates, screenshot
):
    first, second = duplicates
    page = log_in(manager)
    page.on("dialog", lambda dialog: dialog.accept())

    page.get_by_test_id("nav-duplicates").click()
    row = page.get_by_test_id("duplicate-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Same phone number")
    screenshot("duplicates-list")
    row.get_by_test_id("compare").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Merge two customer records")
    expect(page.get_by_test_id("merge-field-name")).to_contain_text("differs")
    page.get_by_test_id("keep-b").check()
    page.get_by_label("王小明", exact=True).check()  # keep the second record, with the first one's name
    page.locator("#f-source-b").check()
    screenshot("merge-screen")
    page.get_by_test_id("merge-submit").click()

    expect(page).to_have_url(re.compile(rf"/customers/{second.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("王小明")
    expect(page.get_by_text("Asked for the price list")).to_be_visible()
    expect(page.get_by_text("Joined via LINE coupon")).to_be_visible()
    screenshot("merged-customer")
    assert Customer.objects.get(pk=first.pk).merged_into_id == second.pk

    page.goto(f"/customers/{first.pk}/")
    expect(page).to_have_url(re.compile(rf"/customers/{second.pk}/$"))

    page.goto("/customers/duplicates/")
    page.get_by_test_id("merge-undo").click()
    expect(page.get_by_text("Merge undone")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("王曉明")
    page.goto("/customers/")
    expect(page.get_by_test_id("customer-link")).to_have_count(2)
    assert Customer.objects.get(pk=first.pk).merged_into_id is None
