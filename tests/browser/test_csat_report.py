"""A manager reads the CSAT report, and an admin sets up a support mailbox, in a real browser."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.tickets.factories import TicketFactory
from tickets.models import CsatSurvey, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_reads_satisfaction_by_team_agent_and_month(log_in, manager, agent, customer, screenshot):
    now = timezone.now()
    for n, rating in enumerate([5, 4, 4, 2, None]):
        ticket = TicketFactory(
            customer=customer,
            team=manager.team,
            assignee=agent,
            status=Ticket.Status.SOLVED,
            subject=f"Case {n}",
        )
        CsatSurvey.objects.create(
            ticket=ticket,
            nonce=f"n{n}",
            channel="email",
            agent=agent,
            team=manager.team,
            rating=rating,
            comment="Very helpful" if rating == 5 else "",
            sent_at=now - dt.timedelta(days=n),
            answered_at=now if rating else None,
        )
    page = log_in(manager)

    page.goto("/tickets/")
    page.get_by_test_id("csat-report-link").click()

    expect(page.get_by_test_id("csat-average")).to_contain_text("3.75")
    expect(page.get_by_test_id("csat-response-rate")).to_contain_text("80%")
    expect(page.get_by_test_id("csat-by-agent")).to_contain_text(agent.get_full_name())
    expect(page.get_by_test_id("csat-latest")).to_contain_text("Very helpful")
    screenshot("csat_report")


def test_an_admin_adds_a_mailbox_and_the_password_field_stays_empty(log_in, admin_user, screenshot):
    page = log_in(admin_user)
    page.goto("/tickets/settings/mailboxes/")
    page.get_by_test_id("mailbox-new").click()
    form = page.get_by_test_id("mailbox-form")
    form.locator("#id_name").fill("Support")
    form.locator("#id_email_address").fill("support@example.com")
    form.locator("#id_host").fill("127.0.0.1")
    form.locator("#id_port").fill("1")
    form.locator("#id_username").fill("support@example.com")
    form.locator("#id_password").fill("secret-pass")
    page.get_by_test_id("mailbox-save").click()

    expect(page.get_by_text("Mailbox saved.")).to_be_visible()
    expect(page.locator("#id_password")).to_have_value("")
    page.get_by_test_id("mailbox-test").click()
    expect(page.get_by_text("Connection failed")).to_be_visible()
    screenshot("mailbox_settings")
