import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import AccessLog
from customers.models import Interaction
from sales.models import Deal, Pipeline, Stage, Task
from tests.factories import CustomerFactory, TagFactory

from .factories import CadenceFactory, DealFactory, TaskFactory, default_pipeline, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def count_queries(client, url, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200, response.status_code
    return len(queries)


def deals_for(owner, count, **kwargs):
    for index in range(count):
        customer = CustomerFactory(owner=owner)
        DealFactory(customer=customer, owner=owner, title=f"Deal {index}", **kwargs)


# The board ---------------------------------------------------------------------------------------


def test_board_shows_columns_with_totals_and_weighted_totals(login, rep, customer):
    DealFactory(customer=customer, owner=rep, title="Small", amount=Decimal("1000"), stage=stage("Qualified"))
    DealFactory(customer=customer, owner=rep, title="Big", amount=Decimal("3000"), stage=stage("Qualified"))
    DealFactory(customer=customer, owner=rep, title="Dollars", amount=Decimal("500"), currency="USD")

    body = login(rep).get(reverse("sales:board")).content.decode()

    assert body.count('data-testid="board-column"') == 6
    assert "TWD 4,000" in body and "TWD 1,000" in body  # Qualified: 4,000 weighted at 25%
    assert "USD 500" in body and "USD 50" in body  # New: 10%
    assert "Small" in body and "Big" in body


def test_board_costs_the_same_queries_for_3_or_40_deals(login, rep):
    client = login(rep)
    deals_for(rep, 3)
    few = count_queries(client, reverse("sales:board"))
    deals_for(rep, 37, stage=stage("Proposal"))
    assert count_queries(client, reverse("sales:board")) == few


def test_board_columns_show_50_cards_and_load_more(login, admin_user, rep):
    deals_for(rep, 53)
    client = login(admin_user)
    body = client.get(reverse("sales:board")).content.decode()
    assert body.count('data-testid="deal-card"') == 50 and 'data-testid="column-more"' in body

    new = stage("New")
    url = reverse("sales:board-column", args=[new.pipeline_id, new.pk])
    more = client.get(url, {"offset": 50}, **HTMX).content.decode()
    assert more.count('data-testid="deal-card"') == 3 and 'data-testid="column-more"' not in more


def test_board_filters_by_owner_team_close_month_and_tag(login, admin_user, rep, other_rep, customer):
    vip = TagFactory(name="VIP")
    mine = DealFactory(
        customer=customer, owner=rep, title="Mine in December", expected_close_date=dt.date(2026, 12, 5)
    )
    mine.tags.add(vip)
    DealFactory(
        customer=customer, owner=other_rep, title="Theirs in January", expected_close_date=dt.date(2027, 1, 5)
    )
    client = login(admin_user)
    url = reverse("sales:board")

    def titles(**params):
        body = client.get(url, params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board").content.decode()
        return {t for t in ("Mine in December", "Theirs in January") if t in body}

    assert titles() == {"Mine in December", "Theirs in January"}
    assert titles(owner=rep.pk) == {"Mine in December"}
    assert titles(close_month="2027-01") == {"Theirs in January"}
    assert titles(tag=vip.pk) == {"Mine in December"}
    assert titles(team=rep.team_id) == {"Mine in December", "Theirs in January"}


def test_rotting_deals_are_highlighted(login, rep, customer):
    DealFactory(
        customer=customer, owner=rep, title="Stale", last_activity_at=timezone.now() - dt.timedelta(days=30)
    )
    DealFactory(customer=customer, owner=rep, title="Fresh")
    body = login(rep).get(reverse("sales:board")).content.decode()
    assert body.count('data-testid="deal-rotting"') == 1


def test_moving_a_card_with_htmx_returns_the_card_and_fresh_totals(login, rep, deal):
    response = login(rep).post(
        reverse("sales:deal-move", args=[deal.pk]), {"stage": stage("Proposal").pk, "version": 1}, **HTMX
    )
    body = response.content.decode()

    assert response.status_code == 200
    assert f'hx-swap-oob="afterbegin:#cards-{stage("Proposal").pk}"' in body
    assert f"outerHTML:#column-head-{stage('Proposal').pk}" in body and "TWD 60,000" in body  # 50% of 120,000
    deal.refresh_from_db()
    assert deal.stage == stage("Proposal") and deal.version == 2


def test_a_stale_move_answers_409_with_the_deal_as_it_is(login, rep, deal):
    client = login(rep)
    client.post(
        reverse("sales:deal-move", args=[deal.pk]), {"stage": stage("Proposal").pk, "version": 1}, **HTMX
    )

    response = client.post(
        reverse("sales:deal-move", args=[deal.pk]), {"stage": stage("Lost").pk, "version": 1}, **HTMX
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert "nothing was saved" in body and f"afterbegin:#cards-{stage('Proposal').pk}" in body
    deal.refresh_from_db()
    assert deal.stage == stage("Proposal")


def test_the_move_menu_works_without_javascript(login, rep, deal):
    response = login(rep).post(
        reverse("sales:deal-move", args=[deal.pk]),
        {"stage": stage("Qualified").pk, "version": 1, "next": reverse("sales:board")},
    )
    assert response.status_code == 302 and response["Location"] == reverse("sales:board")
    deal.refresh_from_db()
    assert deal.stage == stage("Qualified")


def test_a_move_without_a_stage_is_refused_and_changes_nothing(login, rep, deal):
    response = login(rep).post(reverse("sales:deal-move", args=[deal.pk]), {"version": "x"}, **HTMX)
    assert response.status_code == 400 and "Choose a stage" in response.content.decode()
    deal.refresh_from_db()
    assert deal.version == 1


def test_quick_edit_saves_and_shows_field_errors(login, rep, deal):
    client = login(rep)
    url = reverse("sales:deal-quick-edit", args=[deal.pk])
    assert 'data-testid="deal-quick-form"' in client.get(url, **HTMX).content.decode()

    bad = client.post(
        url, {"title": "", "amount": "-3", "owner": rep.pk, "version": 1}, **HTMX
    ).content.decode()
    assert 'data-field-error="title"' in bad
    deal.refresh_from_db()
    assert deal.title == "ERP rollout" and deal.version == 1

    client.post(url, {"title": "ERP phase 2", "amount": "99000", "owner": rep.pk, "version": 1}, **HTMX)
    deal.refresh_from_db()
    assert deal.title == "ERP phase 2" and deal.amount == Decimal("99000") and deal.version == 2
    assert Interaction.objects.filter(kind="deal", summary__contains="amount changed").exists()


# List, detail, forms -----------------------------------------------------------------------------


def test_deal_list_sorts_and_costs_the_same_queries_for_3_or_30_deals(login, rep):
    client = login(rep)
    deals_for(rep, 3)
    url = reverse("sales:deals") + "?sort=-amount"
    few = count_queries(client, url)
    deals_for(rep, 27)
    assert count_queries(client, url) == few


def test_deal_list_sorts_by_amount(login, rep, customer):
    DealFactory(customer=customer, owner=rep, title="Cheap one", amount=5)
    DealFactory(customer=customer, owner=rep, title="Pricey one", amount=500000)
    body = login(rep).get(reverse("sales:deals"), {"sort": "-amount"}).content.decode()
    assert body.index("Pricey one") < body.index("Cheap one")


def test_export_is_csv_of_the_visible_deals_and_logged(login, manager, deal, hidden_deal):
    response = login(manager).get(reverse("sales:deal-export"))
    text = response.content.decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert "ERP rollout" in text and "Secret deal" not in text
    assert AccessLog.objects.filter(user=manager, action="export", count=1).exists()


def test_export_neutralises_spreadsheet_formulas(login, admin_user, customer):
    DealFactory(customer=customer, title="=HYPERLINK(1)")
    text = login(admin_user).get(reverse("sales:deal-export")).content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text


def test_creating_a_deal_from_the_customer_page(login, rep, customer):
    client = login(rep)
    form = client.get(reverse("sales:deal-create"), {"customer": customer.pk}).content.decode()
    assert "王小明" in form

    response = client.post(
        reverse("sales:deal-create"),
        {
            "customer": customer.pk,
            "title": "Annual plan",
            "amount": "36000",
            "currency": "TWD",
            "stage": stage("Qualified").pk,
            "owner": rep.pk,
            "contract_status": "none",
            "tag_names": "renewal, VIP",
        },
    )
    deal = Deal.objects.get(title="Annual plan")
    assert response.status_code == 302 and response["Location"] == reverse("sales:deal", args=[deal.pk])
    assert deal.stage == stage("Qualified") and sorted(t.name for t in deal.tags.all()) == ["VIP", "renewal"]


def test_a_bad_deal_form_shows_field_messages_and_saves_nothing(login, rep, customer):
    response = login(rep).post(
        reverse("sales:deal-create"),
        {"customer": customer.pk, "title": "", "amount": "-1", "currency": "TWD", "stage": stage("New").pk},
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'data-field-error="title"' in body
    assert not Deal.objects.exists()


def test_customer_search_in_the_deal_form_lists_only_visible_customers(login, rep, customer, hidden_deal):
    body = login(rep).get(reverse("sales:customer-options"), {"q": "Ltd"}).content.decode()
    assert "Hidden Ltd" not in body
    assert "王小明" in login(rep).get(reverse("sales:customer-options"), {"q": "小明"}).content.decode()


def test_editing_a_deal_that_changed_meanwhile_keeps_the_form_and_says_so(login, rep, deal):
    client = login(rep)
    data = {
        "title": "Edited",
        "amount": "1",
        "currency": "TWD",
        "stage": stage("New").pk,
        "contract_status": "sent",
        "version": 1,
    }
    Deal.objects.filter(pk=deal.pk).update(version=2)
    body = client.post(reverse("sales:deal-edit", args=[deal.pk]), data).content.decode()
    assert "nothing was saved" in body
    deal.refresh_from_db()
    assert deal.title == "ERP rollout"


def test_deal_page_shows_line_items_tasks_and_its_history(login, rep, deal):
    client = login(rep)
    client.post(
        reverse("sales:line-item-add", args=[deal.pk]),
        {"description": "Setup", "quantity": "2", "unit_price": "500"},
    )
    client.post(reverse("sales:deal-move", args=[deal.pk]), {"stage": stage("Proposal").pk, "version": 2})
    TaskFactory(title="Send contract", assignee=rep, deal=deal, customer=deal.customer)
    body = client.get(reverse("sales:deal", args=[deal.pk])).content.decode()
    assert "Setup" in body and "TWD 1,000" in body and "Send contract" in body
    assert "stage changed from “New” to “Proposal”" in body


def test_360_page_lists_open_deals_and_tasks_with_links_to_create_more(login, rep, customer, deal):
    TaskFactory(title="Call about ERP", assignee=rep, customer=customer)
    body = login(rep).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-testid="panel-deals"' in body and "ERP rollout" in body
    assert 'data-testid="panel-tasks"' in body and "Call about ERP" in body
    assert f"/sales/deals/new/?customer={customer.pk}" in body


def test_caller_card_lists_the_open_deals(agent, customer, deal):
    from callcenter.cards import card_html
    from callcenter.models import Call

    call = Call.objects.create(
        call_id="c1", direction="inbound", state="ringing", customer=customer, extension="101"
    )
    html = card_html(call=call, user=agent)
    assert 'data-testid="call-deals"' in html and "ERP rollout" in html


# My day and tasks --------------------------------------------------------------------------------


def _tasks_for(user, count):
    now = timezone.now()
    for index in range(count):
        TaskFactory(
            assignee=user,
            customer=CustomerFactory(owner=user),
            due_at=now + dt.timedelta(hours=index - count // 2),
        )


def test_my_day_groups_overdue_today_and_upcoming(login, rep, customer):
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    TaskFactory(title="Call from yesterday", assignee=rep, due_at=start - dt.timedelta(hours=3))
    TaskFactory(title="Call for today", assignee=rep, due_at=start + dt.timedelta(hours=23))
    TaskFactory(title="Next week", assignee=rep, due_at=start + dt.timedelta(days=3))
    TaskFactory(title="Not mine", due_at=start + dt.timedelta(hours=1))
    body = login(rep).get(reverse("sales:my-day")).content.decode()

    overdue = body.index('data-testid="section-overdue"')
    today = body.index('data-testid="section-today"')
    upcoming = body.index('data-testid="section-upcoming"')
    assert overdue < body.index("Call from yesterday") < today < body.index("Call for today") < upcoming
    assert body.index("Next week") > upcoming and "Not mine" not in body


def test_my_day_costs_the_same_queries_for_4_or_60_tasks(login, rep):
    client = login(rep)
    _tasks_for(rep, 4)
    few = count_queries(client, reverse("sales:my-day"))
    _tasks_for(rep, 56)
    assert count_queries(client, reverse("sales:my-day")) == few


def test_completing_on_my_day_with_htmx_shows_it_done_and_writes_the_timeline(login, rep, customer):
    task = TaskFactory(title="Send brochure", assignee=rep, customer=customer)
    response = login(rep).post(reverse("sales:task-complete", args=[task.pk]), {"outcome": "done"}, **HTMX)
    assert 'data-testid="task-row-done"' in response.content.decode()
    assert Interaction.objects.filter(
        customer=customer, kind="task", summary="Task done: Send brochure"
    ).exists()


def test_no_answer_on_my_day_schedules_the_next_attempt(login, rep, customer):
    task = TaskFactory(title="Call back", assignee=rep, customer=customer, cadence=CadenceFactory())
    body = (
        login(rep)
        .post(reverse("sales:task-complete", args=[task.pk]), {"outcome": "no_answer"}, **HTMX)
        .content.decode()
    )
    assert 'data-testid="task-next"' in body
    assert Task.objects.get(previous=task).title == "Call back (attempt 2)"


def test_a_team_member_takes_an_unassigned_call_back(login, rep, team, customer):
    task = TaskFactory(title="Call back (missed)", team=team, customer=customer)
    client = login(rep)
    assert "Call back (missed)" in client.get(reverse("sales:my-day")).content.decode()
    client.post(reverse("sales:task-take", args=[task.pk]))
    task.refresh_from_db()
    assert task.assignee == rep


def test_creating_a_task_for_a_deal(login, rep, deal):
    response = login(rep).post(
        reverse("sales:task-create") + f"?deal={deal.pk}",
        {
            "title": "Send contract",
            "due_at": "2026-12-01T10:00",
            "assignee": rep.pk,
            "priority": 3,
            "remind": "on",
            "deal": deal.pk,
        },
    )
    task = Task.objects.get(title="Send contract")
    assert response.status_code == 302 and task.deal == deal and task.customer == deal.customer
    assert task.remind_at == task.due_at and task.priority == 3


def test_a_task_without_title_or_due_time_shows_field_messages(login, rep):
    body = (
        login(rep)
        .post(reverse("sales:task-create"), {"title": "", "due_at": "tomorrow", "priority": 2})
        .content.decode()
    )
    assert 'data-field-error="title"' in body and 'data-field-error="due_at"' in body
    assert not Task.objects.exists()


# Settings ----------------------------------------------------------------------------------------


def test_admin_edits_stages_with_probabilities_checked(login, admin_user):
    pipeline = default_pipeline()
    client = login(admin_user)
    url = reverse("sales:pipeline-edit", args=[pipeline.pk])
    assert client.get(url).status_code == 200
    stages = list(pipeline.stages.all())
    data = {
        "name": "Sales",
        "order": 0,
        "active": "on",
        "stages-TOTAL_FORMS": len(stages),
        "stages-INITIAL_FORMS": len(stages),
    }
    for index, s in enumerate(stages):
        data.update(
            {
                f"stages-{index}-id": s.pk,
                f"stages-{index}-pipeline": pipeline.pk,
                f"stages-{index}-order": s.order,
                f"stages-{index}-name": s.name,
                f"stages-{index}-probability": s.probability,
            }
        )
        if s.is_won:
            data[f"stages-{index}-is_won"] = "on"
        if s.is_lost:
            data[f"stages-{index}-is_lost"] = "on"
    data["stages-1-probability"] = 140
    body = client.post(url, data).content.decode()
    assert "Ensure this value is less than or equal to 100." in body
    assert Stage.objects.get(pk=stages[1].pk).probability == 25

    data["stages-1-probability"] = 30
    data["stages-1-order"] = 9
    assert client.post(url, data).status_code == 302
    assert list(pipeline.stages.values_list("name", flat=True))[-1] == "Qualified"


def test_admin_creates_a_second_pipeline(login, admin_user):
    data = {
        "name": "B2C membership",
        "order": 1,
        "active": "on",
        "stages-TOTAL_FORMS": 2,
        "stages-INITIAL_FORMS": 0,
        "stages-0-order": 0,
        "stages-0-name": "Trial",
        "stages-0-probability": 30,
        "stages-1-order": 1,
        "stages-1-name": "Member",
        "stages-1-probability": 100,
        "stages-1-is_won": "on",
    }
    assert login(admin_user).post(reverse("sales:pipeline-create"), data).status_code == 302
    assert list(Pipeline.objects.get(name="B2C membership").stages.values_list("name", flat=True)) == [
        "Trial",
        "Member",
    ]


def test_a_stage_with_deals_cannot_be_deleted(login, admin_user, deal):
    pipeline = default_pipeline()
    stages = list(pipeline.stages.all())
    data = {
        "name": "Sales",
        "order": 0,
        "active": "on",
        "stages-TOTAL_FORMS": len(stages),
        "stages-INITIAL_FORMS": len(stages),
    }
    for index, s in enumerate(stages):
        data.update(
            {
                f"stages-{index}-id": s.pk,
                f"stages-{index}-order": s.order,
                f"stages-{index}-name": s.name,
                f"stages-{index}-probability": s.probability,
            }
        )
    data["stages-0-DELETE"] = "on"
    body = login(admin_user).post(reverse("sales:pipeline-edit", args=[pipeline.pk]), data).content.decode()
    assert "still has deals" in body and Stage.objects.filter(pk=stages[0].pk).exists()


def test_admin_adds_a_lost_reason(login, admin_user):
    client = login(admin_user)
    assert (
        client.post(
            reverse("sales:settings-create", args=["lost-reason"]),
            {"name": "Went silent", "order": 9, "active": "on"},
        ).status_code
        == 302
    )
    assert "Went silent" in client.get(reverse("sales:settings")).content.decode()
