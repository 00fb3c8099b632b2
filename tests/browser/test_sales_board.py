"""A sales rep works the pipeline board and the day's follow-ups in a real browser."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Interaction
from sales.models import Deal
from tests.sales.factories import DealFactory, TaskFactory, stage

pytestmark = pytest.mark.browser


@pytest.fixture
def deals(customer, rep):
    erp = DealFactory(customer=customer, owner=rep, title="ERP rollout", amount=Decimal("120000"))
    DealFactory(customer=customer, owner=rep, title="Support plan", amount=Decimal("30000"))
    return erp


def column(page, name):
    return page.locator(f'[data-testid="board-column"][data-stage-name="{name}"]')


def drag(page, source, target):
    """Press on the card, move in small steps onto the target list, release: what a person does."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=20)
    page.mouse.up()


def test_rep_drags_a_deal_to_the_next_stage_and_sees_totals_and_history(log_in, rep, deals, screenshot):
    page = log_in(rep)
    page.get_by_test_id("nav-pipeline").click()
    new, qualified = column(page, "New"), column(page, "Qualified")
    expect(new.get_by_test_id("column-total")).to_have_text("TWD 150,000")
    expect(qualified.get_by_test_id("column-count")).to_have_text("0")
    page.wait_for_function("() => document.querySelector('.board-cards').dataset.sortable === '1'")

    card = new.get_by_test_id("deal-card").filter(has_text="ERP rollout")
    drag(page, card, qualified.get_by_test_id("board-cards"))

    expect(qualified.get_by_test_id("deal-card")).to_have_count(1)
    expect(qualified.get_by_test_id("deal-card")).to_contain_text("ERP rollout")
    expect(qualified.get_by_test_id("column-total")).to_have_text("TWD 120,000")
    expect(qualified.get_by_test_id("column-weighted")).to_have_text("TWD 30,000")
    expect(new.get_by_test_id("column-total")).to_have_text("TWD 30,000")
    expect(page.get_by_test_id("board-weighted")).to_have_text("TWD 33,000")
    screenshot("sales_board_after_drag")

    erp = Deal.objects.get(title="ERP rollout")
    assert erp.stage == stage("Qualified") and erp.version == 2

    qualified.get_by_test_id("deal-title").click()
    expect(page.get_by_test_id("deal-timeline")).to_contain_text("stage changed from “New” to “Qualified”")
    expect(page.get_by_test_id("deal-timeline")).to_contain_text(str(rep))


def test_the_move_menu_moves_a_card_from_the_keyboard(log_in, rep, deals):
    page = log_in(rep)
    page.goto("/sales/")
    card = column(page, "New").get_by_test_id("deal-card").filter(has_text="Support plan")
    card.focus()
    page.keyboard.press("Tab")  # the card's title link
    page.keyboard.press("Tab")  # its "Move…" menu
    expect(card.get_by_test_id("deal-move-menu")).to_be_focused()
    page.keyboard.press("Enter")
    card.get_by_test_id(f"move-to-{stage('Proposal').pk}").focus()
    page.keyboard.press("Enter")

    proposal = column(page, "Proposal")
    expect(proposal.get_by_test_id("deal-card")).to_contain_text("Support plan")
    expect(proposal.get_by_test_id("column-total")).to_have_text("TWD 30,000")


def test_a_stale_card_is_put_back_where_the_deal_really_is(log_in, rep, deals):
    page = log_in(rep)
    page.goto("/sales/")
    page.wait_for_function("() => document.querySelector('.board-cards').dataset.sortable === '1'")
    # someone else moves the deal while this board is open
    Deal.objects.filter(pk=deals.pk).update(stage=stage("Negotiation"), version=5)

    card = column(page, "New").get_by_test_id("deal-card").filter(has_text="ERP rollout")
    drag(page, card, column(page, "Qualified").get_by_test_id("board-cards"))

    expect(page.get_by_test_id("board-error")).to_contain_text("nothing was saved")
    expect(column(page, "Negotiation").get_by_test_id("deal-card")).to_contain_text("ERP rollout")
    expect(column(page, "Qualified").get_by_test_id("deal-card")).to_have_count(0)


def test_rep_completes_a_follow_up_on_my_day(log_in, rep, customer, screenshot):
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    TaskFactory(
        title="Send the ERP quote", assignee=rep, customer=customer, due_at=start + dt.timedelta(hours=23)
    )
    TaskFactory(
        title="Call about renewal", assignee=rep, customer=customer, due_at=start - dt.timedelta(days=1)
    )

    page = log_in(rep)
    page.get_by_test_id("nav-my-day").click()
    overdue = page.get_by_test_id("section-overdue")
    expect(overdue.get_by_test_id("task-row")).to_contain_text("Call about renewal")
    today = page.get_by_test_id("section-today")
    today.get_by_test_id("task-row").filter(has_text="Send the ERP quote").get_by_test_id("task-done").click()

    expect(today.get_by_test_id("task-row-done")).to_contain_text("Send the ERP quote")
    screenshot("sales_my_day")
    assert Interaction.objects.filter(
        customer=customer, kind="task", summary="Task done: Send the ERP quote"
    ).exists()

    page.goto(f"/customers/{customer.pk}/")
    expect(page.get_by_test_id("timeline")).to_contain_text("Task done: Send the ERP quote")


@pytest.fixture
def uvicorn_url(transactional_db, monkeypatch):
    """The app under uvicorn (ASGI) in a thread: the live server of pytest-django (WSGI) cannot stream."""
    import os
    import socket
    import threading

    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    from crm import pubsub

    monkeypatch.setattr(pubsub, "PREFIX", f"{pubsub.PREFIX}sales-test-{os.getpid()}:")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        ASGIStaticFilesHandler(get_asgi_application()),
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _attempt in range(200):
        if server.started:
            break
        thread.join(0.05)  # returns at once if the server thread died
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    listener.close()


@pytest.fixture
def live_page(browser, uvicorn_url):
    context = browser.new_context(base_url=uvicorn_url, locale="en-US", timezone_id="Asia/Taipei")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_a_due_follow_up_pops_up_on_the_open_page(live_page, rep, customer):
    """Served by uvicorn (ASGI), which holds the live stream open; the reminder arrives over it."""
    from sales import services

    page = live_page
    page.context.add_init_script(
        "document.addEventListener('htmx:sseOpen', () => { window.liveOpen = true; });"
    )
    TaskFactory(
        title="Call 王小明 back",
        assignee=rep,
        customer=customer,
        due_at=timezone.now() - dt.timedelta(minutes=1),
    )
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(rep.username)
    page.locator("#id_password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("nav-my-day").click()
    page.wait_for_function("() => window.liveOpen === true")

    assert services.reminders_send_due() == 1

    notification = page.get_by_test_id("notification")
    expect(notification).to_contain_text("Follow-up due")
    expect(notification).to_contain_text("Call 王小明 back")
    notification.get_by_role("button", name="Close").click()
    expect(notification).to_have_count(0)
