import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import roles
from sales import forecast
from sales.models import CommissionRate, ForecastSnapshot
from tests.factories import CustomerFactory, UserFactory

from .factories import DealFactory, PipelineFactory, StageFactory, default_pipeline, stage

pytestmark = pytest.mark.django_db


def this_month():
    return timezone.localdate().replace(day=1)


def open_deal(owner, amount, stage_name, close, currency="TWD"):
    return DealFactory(
        customer=CustomerFactory(owner=owner),
        owner=owner,
        amount=Decimal(amount),
        stage=stage(stage_name),
        expected_close_date=close,
        currency=currency,
    )


def won_deal(owner, amount, closed_at, currency="TWD", pipeline_stage=None):
    deal = DealFactory(
        customer=CustomerFactory(owner=owner),
        owner=owner,
        amount=Decimal(amount),
        stage=pipeline_stage or stage("Won"),
        currency=currency,
    )
    deal.closed_at = closed_at
    deal.save(update_fields=["closed_at"])
    return deal


def at_noon(day):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def test_forecast_sums_weighted_best_case_committed_and_won_per_month(rep):
    month = this_month()
    next_month = forecast.add_months(month, 1)
    open_deal(rep, 100_000, "Qualified", month + dt.timedelta(days=3))  # 25 %
    open_deal(rep, 200_000, "Negotiation", month + dt.timedelta(days=5))  # 75 %: committed
    open_deal(rep, 50_000, "Proposal", next_month)  # 50 %
    open_deal(rep, 999_999, "Proposal", forecast.add_months(month, 5))  # outside the range
    won_deal(rep, 30_000, at_noon(month))
    table = forecast.forecast(user=rep, months=forecast.months_from(month, 3))
    [row] = table.rows
    assert row.owner == rep
    this, following, _third = row.columns
    assert this == {
        "weighted": Decimal("175000.00"),
        "best_case": Decimal("300000"),
        "committed": Decimal("230000"),
        "won": Decimal("30000"),
    }
    assert following["weighted"] == Decimal("25000.00") and following["won"] == 0
    assert table.currencies == ["TWD"] and not table.mixed_currencies


def test_mixed_currencies_get_their_own_columns_and_are_not_converted(rep):
    month = this_month()
    open_deal(rep, 1000, "Proposal", month, currency="TWD")
    open_deal(rep, 300, "Proposal", month, currency="USD")
    table = forecast.forecast(user=rep, months=[month])
    assert table.mixed_currencies and table.columns == [(month, "TWD"), (month, "USD")]
    assert [cell["best_case"] for cell in table.rows[0].columns] == [Decimal("1000"), Decimal("300")]


def test_reps_see_themselves_managers_their_team_and_admins_everyone(
    rep, other_rep, manager, admin_user, other_team
):
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    month = this_month()
    for user in (rep, other_rep, outsider):
        open_deal(user, 1000, "Proposal", month)
    shown = {
        u: {row.owner for row in forecast.forecast(user=u, months=[month]).rows}
        for u in (rep, manager, admin_user)
    }
    assert shown[rep] == {rep}
    assert shown[manager] == {rep, other_rep, manager}  # the team's sellers; not its admin or agents
    assert outsider not in shown[manager]
    assert {rep, other_rep, outsider} <= shown[admin_user]
    assert forecast.forecast(user=UserFactory(role=roles.AGENT), months=[month]).rows == []


def test_the_snapshot_freezes_the_months_forecast_once(rep):
    month = this_month()
    deal = open_deal(rep, 100_000, "Proposal", month + dt.timedelta(days=1))
    assert forecast.forecast_snapshot_take() == 1
    deal.amount = Decimal("1")
    deal.save()
    assert forecast.forecast_snapshot_take() == 0
    snapshot = ForecastSnapshot.objects.get()
    assert (snapshot.month, snapshot.owner, snapshot.weighted, snapshot.best_case, snapshot.committed) == (
        month,
        rep,
        Decimal("50000.00"),
        Decimal("100000.00"),
        Decimal("0.00"),
    )


def test_past_forecast_vs_actual_shows_an_optimistic_rep(rep):
    last_month = forecast.add_months(this_month(), -1)
    ForecastSnapshot.objects.create(month=last_month, owner=rep, currency="TWD", weighted=Decimal("150000"))
    won_deal(rep, 100_000, at_noon(last_month + dt.timedelta(days=10)))
    [entry] = forecast.forecast_accuracy(user=rep)
    assert entry.owner == rep and entry.currency == "TWD"
    assert entry.forecast_total == Decimal("150000") and entry.won_total == Decimal("100000")
    assert entry.bias_percent == Decimal("50")


def test_the_forecast_page_is_a_constant_number_of_queries(login, rep, manager, other_rep):
    month = this_month()
    open_deal(rep, 1000, "Proposal", month)
    client = login(manager)
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("sales:forecast"))
    assert response.status_code == 200 and 'data-testid="forecast-table"' in response.content.decode()
    for index in range(10):
        open_deal(
            other_rep if index % 2 else rep, 1000 + index, "Negotiation", month + dt.timedelta(days=index)
        )
        won_deal(rep, 500, timezone.now())
    ForecastSnapshot.objects.create(
        month=forecast.add_months(month, -1), owner=rep, currency="TWD", weighted=Decimal("1")
    )
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("sales:forecast"), {"months": 6})
    assert response.status_code == 200
    assert len(many) == len(few)


def test_forecast_page_rejects_nonsense_quietly(login, rep):
    response = login(rep).get(reverse("sales:forecast"), {"start": "9999-99", "months": "77", "owner": "abc"})
    assert response.status_code == 200


def test_agents_have_no_forecast_or_commission(login, agent):
    client = login(agent)
    assert client.get(reverse("sales:forecast")).status_code == 403
    assert client.get(reverse("sales:commission")).status_code == 403


# Commission ------------------------------------------------------------------------------------


def test_the_most_specific_rate_applies(rep, team):
    b2c = PipelineFactory(name="B2C")
    b2c_won = StageFactory(pipeline=b2c, name="Won", is_won=True, probability=100)
    everyone = CommissionRate.objects.create(percent=Decimal("1"))
    team_rate = CommissionRate.objects.create(team=team, percent=Decimal("2"))
    mine = CommissionRate.objects.create(user=rep, percent=Decimal("3"))
    mine_b2c = CommissionRate.objects.create(user=rep, pipeline=b2c, percent=Decimal("4"))
    rates = [everyone, team_rate, mine, mine_b2c]
    assert forecast.rate_for(rates, user=rep, pipeline_id=default_pipeline().pk) == mine
    assert forecast.rate_for(rates, user=rep, pipeline_id=b2c.pk) == mine_b2c
    assert forecast.rate_for([everyone, team_rate], user=rep, pipeline_id=b2c.pk) == team_rate
    other = UserFactory(role=roles.SALES_REP, team=None)
    assert forecast.rate_for(rates, user=other, pipeline_id=b2c.pk) == everyone
    assert b2c_won.is_won


def test_a_rep_sees_their_commission_this_month_rounded_per_currency(login, rep):
    CommissionRate.objects.create(user=rep, percent=Decimal("2.5"))
    won_deal(rep, "10001", timezone.now())  # 250.025 → 250 (TWD has no cents)
    won_deal(rep, "333.30", timezone.now(), currency="USD")  # 8.3325 → 8.33
    won_deal(rep, "99999", timezone.now() - dt.timedelta(days=400))  # long ago: not counted
    today = timezone.localdate()
    result = forecast.commission(
        owner=rep, start=today.replace(day=1), end=forecast.add_months(today.replace(day=1), 1)
    )
    assert result.totals["TWD"]["commission"] == Decimal("250.00")
    assert result.totals["USD"]["commission"] == Decimal("8.33")
    body = login(rep).get(reverse("sales:commission")).content.decode()
    assert "My commission" in body and "TWD 250" in body and "USD 8.33" in body


def test_a_manager_may_look_at_a_team_members_commission_but_a_rep_not_at_a_colleagues(
    login, rep, other_rep, manager
):
    CommissionRate.objects.create(percent=Decimal("10"))
    won_deal(other_rep, "5000", timezone.now())
    body = login(manager).get(reverse("sales:commission"), {"owner": other_rep.pk}).content.decode()
    assert "TWD 500" in body
    body = login(rep).get(reverse("sales:commission"), {"owner": other_rep.pk}).content.decode()
    assert "TWD 500" not in body and "My commission" in body


def test_only_admins_edit_commission_rates(login, rep, manager, admin_user):
    url = reverse("sales:commission-rate-create")
    assert login(rep).get(reverse("sales:commission-rates")).status_code == 403
    assert login(manager).get(reverse("sales:commission-rates")).status_code == 200
    assert login(manager).post(url, {"percent": "5", "active": "on"}).status_code == 403
    admin = login(admin_user)
    assert admin.post(url, {"percent": "5", "active": "on"}).status_code == 302
    rate = CommissionRate.objects.get()
    response = admin.post(url, {"percent": "7", "active": "on"})
    assert response.status_code == 200 and "already a rate" in response.content.decode()
    assert admin.post(url, {"percent": "101"}).status_code == 200
    assert login(manager).post(reverse("sales:commission-rate-delete", args=[rate.pk])).status_code == 403
    assert admin.post(reverse("sales:commission-rate-delete", args=[rate.pk])).status_code == 302
    assert not CommissionRate.objects.exists()


def test_the_commission_page_is_a_constant_number_of_queries(login, rep):
    CommissionRate.objects.create(user=rep, percent=Decimal("3"))
    won_deal(rep, "1000", timezone.now())
    client = login(rep)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("sales:commission")).status_code == 200
    for index in range(10):
        won_deal(rep, str(1000 + index), timezone.now(), currency="USD" if index % 2 else "TWD")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("sales:commission"))
    assert response.content.decode().count('data-testid="commission-row"') == 11
    assert len(many) == len(few)


def test_the_beat_task_freezes_this_months_forecast(rep, settings):
    from sales.tasks import forecast_snapshot

    assert settings.CELERY_BEAT_SCHEDULE["sales-forecast-snapshot"]["task"] == forecast_snapshot.name
    open_deal(rep, 1000, "Negotiation", this_month())
    forecast_snapshot.apply()
    snapshot = ForecastSnapshot.objects.get()
    assert (snapshot.owner, snapshot.committed) == (rep, Decimal("1000.00"))
