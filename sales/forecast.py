"""Forecast by month and rep, past forecast vs actual, and commission on won deals.

Definitions (per rep, month and currency; amounts are never converted between currencies):
  weighted   = Σ amount × stage probability of the open deals expected to close in the month;
  best case  = Σ amount of the open deals expected to close in the month;
  committed  = Σ amount of those open deals in a stage of at least SALES_COMMITTED_PROBABILITY %,
               plus what was already won in the month;
  won        = Σ amount of the deals won in the month (by the day they were closed).
A snapshot of weighted / best case / committed is frozen for every rep at the start of each month
(Celery beat, `forecast_snapshot_take`); "past forecast vs actual" compares it with what was then won.

Who is shown: reps themselves; managers the members of the teams they manage or belong to;
admins everyone who owns deals. Only deals the viewer may see (deals_visible_to) are counted.
Commission: the most specific active rate applies: the rep's for the deal's pipeline, the rep's,
the rep's team's for the pipeline, the team's, then a rate for everyone (for the pipeline, then any).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from crm import roles

from . import selectors
from .models import CommissionRate, Deal, ForecastSnapshot
from .quotes import round_money
from .services import settings_currency

MAX_MONTHS = 12
PAST_MONTHS = 6


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def months_from(start: dt.date, count: int) -> list[dt.date]:
    return [add_months(month_start(start), n) for n in range(count)]


def _month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(month, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(add_months(month, 1), dt.time.min, tzinfo=tz)


def forecast_owners(user):
    """The reps whose forecast `user` may see, by name."""
    User = get_user_model()
    role = roles.user_role(user)
    if not user.is_authenticated or not user.has_perm("sales.view_forecast"):
        return User.objects.none()
    if role == roles.ADMIN:
        owners = User.objects.filter(Exists(Deal.objects.filter(owner=OuterRef("pk"))) | Q(pk=user.pk))
    elif role == roles.MANAGER:
        sellers = Exists(
            User.groups.through.objects.filter(
                user_id=OuterRef("pk"), group__name__in=[roles.SALES_REP, roles.MANAGER]
            )
        ) | Exists(Deal.objects.filter(owner=OuterRef("pk")))
        team = Q(team_id__in=selectors.team_ids(user), is_active=True) & sellers
        owners = User.objects.filter(team | Q(pk=user.pk))
    else:
        owners = User.objects.filter(pk=user.pk)
    return owners.order_by("first_name", "last_name", "username")


def _committed_probability() -> int:
    return settings.SALES_COMMITTED_PROBABILITY


def _amounts():
    return {"weighted": Decimal(0), "best_case": Decimal(0), "committed": Decimal(0), "won": Decimal(0)}


@dataclass
class ForecastRow:
    owner: object
    cells: dict = field(default_factory=dict)  # (month, currency) -> amounts
    columns: list = field(default_factory=list)  # the cells in the table's column order


@dataclass
class Forecast:
    months: list[dt.date]
    currencies: list[str]
    rows: list[ForecastRow]
    totals: dict  # (month, currency) -> amounts
    threshold: int
    columns: list = field(default_factory=list)  # [(month, currency)]
    total_columns: list = field(default_factory=list)

    @property
    def mixed_currencies(self) -> bool:
        return len(self.currencies) > 1


def open_pipeline(*, deals, months: list[dt.date], threshold: int):
    """Open deals closing in the months: per owner, month and currency, weighted, best case, committed."""
    return (
        deals.filter(
            status=Deal.Status.OPEN,
            expected_close_date__gte=months[0],
            expected_close_date__lt=add_months(months[-1], 1),
        )
        .annotate(month=TruncMonth("expected_close_date"))
        .order_by()
        .values("owner_id", "month", "currency")
        .annotate(
            weighted=Sum(selectors.WEIGHTED),
            best_case=Sum("amount"),
            committed=Sum("amount", filter=Q(stage__probability__gte=threshold)),
            count=Count("id"),
        )
    )


def won_by_month(*, deals, months: list[dt.date]):
    start, _end = _month_bounds(months[0])
    _start, end = _month_bounds(months[-1])
    tz = timezone.get_current_timezone()
    return (
        deals.filter(status=Deal.Status.WON, closed_at__gte=start, closed_at__lt=end)
        .annotate(month=TruncMonth("closed_at", tzinfo=tz))
        .order_by()
        .values("owner_id", "month", "currency")
        .annotate(won=Sum("amount"))
    )


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def forecast(*, user, months: list[dt.date], owner_id: int | None = None, owners=None) -> Forecast:
    """The forecast table: one row per rep in the viewer's scope, three queries whatever the number of deals."""
    threshold = _committed_probability()
    owners = list(forecast_owners(user) if owners is None else owners)
    if owner_id is not None:
        owners = [o for o in owners if o.pk == owner_id]
    by_id = {o.pk: ForecastRow(owner=o) for o in owners}
    deals = selectors.deals_visible_to(user).filter(owner_id__in=list(by_id))
    currencies, totals = set(), defaultdict(_amounts)
    for row in open_pipeline(deals=deals, months=months, threshold=threshold):
        key = (_as_date(row["month"]), row["currency"])
        cell = by_id[row["owner_id"]].cells.setdefault(key, _amounts())
        for name in ("weighted", "best_case", "committed"):
            cell[name] += row[name] or Decimal(0)
            totals[key][name] += row[name] or Decimal(0)
        currencies.add(row["currency"])
    for row in won_by_month(deals=deals, months=months):
        key = (_as_date(row["month"]), row["currency"])
        cell = by_id[row["owner_id"]].cells.setdefault(key, _amounts())
        cell["won"] += row["won"] or Decimal(0)
        cell["committed"] += row["won"] or Decimal(0)
        totals[key]["won"] += row["won"] or Decimal(0)
        totals[key]["committed"] += row["won"] or Decimal(0)
        currencies.add(row["currency"])
    for amounts in [*totals.values(), *(c for r in by_id.values() for c in r.cells.values())]:
        amounts["weighted"] = amounts["weighted"].quantize(Decimal("0.01"))
    currencies = sorted(currencies) or [settings_currency()]
    columns = [(month, currency) for month in months for currency in currencies]
    rows = list(by_id.values())
    for row in rows:
        row.columns = [row.cells.get(key) or _amounts() for key in columns]
    return Forecast(
        months=months,
        currencies=currencies,
        rows=rows,
        totals=dict(totals),
        threshold=threshold,
        columns=columns,
        total_columns=[totals.get(key) or _amounts() for key in columns],
    )


# Past forecast vs actual -----------------------------------------------------------------------


@dataclass
class Accuracy:
    owner: object
    currency: str
    months: list  # [(month, forecast weighted, committed, won)]
    forecast_total: Decimal
    won_total: Decimal

    @property
    def bias_percent(self) -> Decimal | None:
        """How far the forecast was above (+) or below (−) what was won, in % of what was won."""
        if not self.won_total:
            return None
        return ((self.forecast_total - self.won_total) * 100 / self.won_total).quantize(Decimal("1"))


def forecast_accuracy(
    *, user, today: dt.date | None = None, past_months=PAST_MONTHS, owner_id=None, owners=None
) -> list[Accuracy]:
    """For each rep in scope and currency: the frozen forecast of each past month next to what was won."""
    today = today or timezone.localdate()
    months = months_from(add_months(month_start(today), -past_months), past_months)
    owners = {o.pk: o for o in (forecast_owners(user) if owners is None else owners)}
    if owner_id is not None:
        owners = {pk: o for pk, o in owners.items() if pk == owner_id}
    snapshots = ForecastSnapshot.objects.filter(owner_id__in=list(owners), month__in=months)
    won = defaultdict(Decimal)
    deals = selectors.deals_visible_to(user).filter(owner_id__in=list(owners))
    for row in won_by_month(deals=deals, months=months):
        won[(row["owner_id"], row["currency"], _as_date(row["month"]))] += row["won"] or Decimal(0)
    frozen = {(s.owner_id, s.currency, s.month): s for s in snapshots}
    result = []
    for owner_pk, currency in sorted(
        {(o, c) for o, c, _m in [*frozen, *won]}, key=lambda k: (str(owners[k[0]]), k[1])
    ):
        rows, forecast_total, won_total = [], Decimal(0), Decimal(0)
        for month in months:
            snapshot = frozen.get((owner_pk, currency, month))
            actual = won.get((owner_pk, currency, month), Decimal(0))
            rows.append((month, snapshot, actual))
            if snapshot is not None:
                forecast_total += snapshot.weighted
                won_total += actual
        result.append(Accuracy(owners[owner_pk], currency, rows, forecast_total, won_total))
    return result


@transaction.atomic
def forecast_snapshot_take(*, month: dt.date | None = None, now=None) -> int:
    """Freeze every rep's forecast for the month (default: this month) unless already frozen; the count made."""
    now = now or timezone.now()
    month = month_start(month or timezone.localdate(now))
    threshold = _committed_probability()
    taken = set(ForecastSnapshot.objects.filter(month=month).values_list("owner_id", "currency"))
    rows = open_pipeline(deals=Deal.objects.filter(owner__isnull=False), months=[month], threshold=threshold)
    new = [
        ForecastSnapshot(
            month=month,
            owner_id=row["owner_id"],
            currency=row["currency"],
            weighted=(row["weighted"] or Decimal(0)).quantize(Decimal("0.01")),
            best_case=row["best_case"] or Decimal(0),
            committed=row["committed"] or Decimal(0),
            deal_count=row["count"],
            taken_at=now,
        )
        for row in rows
        if (row["owner_id"], row["currency"]) not in taken
    ]
    ForecastSnapshot.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


# Commission ------------------------------------------------------------------------------------


def rate_for(rates: list[CommissionRate], *, user, pipeline_id) -> CommissionRate | None:
    """The most specific active rate for a rep's deal in a pipeline (see the module doc)."""

    def score(rate):
        if rate.user_id is not None and rate.user_id != user.pk:
            return None
        if rate.user_id is None and rate.team_id is not None and rate.team_id != user.team_id:
            return None
        if rate.pipeline_id is not None and rate.pipeline_id != pipeline_id:
            return None
        level = 3 if rate.user_id else 2 if rate.team_id else 1
        return level * 2 + (1 if rate.pipeline_id else 0)

    scored = [(score(rate), rate) for rate in rates]
    scored = [(s, rate) for s, rate in scored if s is not None]
    return max(scored, key=lambda item: (item[0], -item[1].pk))[1] if scored else None


@dataclass
class Commission:
    owner: object
    start: dt.date
    end: dt.date  # exclusive

    @property
    def last_month(self) -> dt.date:
        return add_months(self.end, -1)

    deals: list  # [(deal, rate or None, commission)], the newest COMMISSION_ROWS
    totals: dict  # currency -> {"won": amount, "commission": amount}


COMMISSION_ROWS = 50


def commission(*, owner, start: dt.date, end: dt.date, deals=None, rows=COMMISSION_ROWS) -> Commission:
    """The rep's estimated commission on the deals they won from `start` to `end` (exclusive).

    Totals come from one aggregate per pipeline and currency (a rate applies per pipeline), the
    commission rounded once per pipeline and currency; the newest `rows` deals are listed one by one.
    """
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end, dt.time.min, tzinfo=tz)
    queryset = Deal.objects.all() if deals is None else deals
    won = queryset.filter(owner=owner, status=Deal.Status.WON, closed_at__gte=since, closed_at__lt=until)
    rates = list(
        CommissionRate.objects.filter(active=True).filter(
            Q(user=owner)
            | Q(user__isnull=True, team_id=owner.team_id)
            | Q(user__isnull=True, team__isnull=True)
        )
    )
    totals = {}
    sums = won.order_by().values("pipeline_id", "currency").annotate(won=Sum("amount"))
    for row in sorted(sums, key=lambda r: (r["currency"], r["pipeline_id"])):
        rate = rate_for(rates, user=owner, pipeline_id=row["pipeline_id"])
        amount = round_money(row["won"] * rate.percent / 100, row["currency"]) if rate else Decimal(0)
        entry = totals.setdefault(row["currency"], {"won": Decimal(0), "commission": Decimal(0)})
        entry["won"] += row["won"]
        entry["commission"] += amount
    listed = []
    for deal in won.select_related("customer").order_by("-closed_at", "-id")[:rows] if rows else []:
        rate = rate_for(rates, user=owner, pipeline_id=deal.pipeline_id)
        amount = round_money(deal.amount * rate.percent / 100, deal.currency) if rate else Decimal(0)
        listed.append((deal, rate, amount))
    return Commission(owner=owner, start=start, end=end, deals=listed, totals=totals)


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
