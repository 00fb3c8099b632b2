"""Demo quotes, commission rates and past forecasts for seed_sales_demo (each part skipped when present)."""

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from . import forecast, quotes, services
from .models import CommissionRate, Deal, ForecastSnapshot, Quote, Task

MARKER = "demo"
LINES = [
    ("ERP 授權（每人）", 25, 12000, 0),
    ("導入顧問服務（人天）", 12, 18000, 5),
    ("年度維護", 1, 180000, 0),
    ("教育訓練", 2, 22500, 10),
    ("Data migration", 1, 95000, 0),
]
# How far each demo seller's forecasts were from what they then won: some are optimistic.
OPTIMISM = {"rep": 1.45, "rep2": 0.9, "manager": 1.1, "manager2": 1.0}


@transaction.atomic
def seed_quotes(users, sellers) -> str:
    if Quote.objects.filter(notes__startswith="[demo]").exists():
        return "Demo quotes are already there; leaving them as they are."
    CommissionRate.objects.get_or_create(
        user=None, team=None, pipeline=None, defaults={"percent": Decimal("2")}
    )
    if "rep" in users:
        CommissionRate.objects.get_or_create(
            user=users["rep"], team=None, pipeline=None, defaults={"percent": Decimal("3.5")}
        )
    rng = random.Random(42)
    count = 0
    for name in sellers:
        owner = users.get(name)
        if owner is None:
            continue
        deals = list(
            Deal.objects.filter(owner=owner, status=Deal.Status.OPEN, source=MARKER).order_by("id")[:3]
        )
        for index, deal in enumerate(deals):
            lines = [
                {"description": d, "quantity": q, "unit_price": p, "discount_percent": disc}
                for d, q, p, disc in rng.sample(LINES, 3)
            ]
            quote = quotes.quote_create(
                actor=owner,
                deal=deal,
                lines=lines,
                discount_percent=5 if index == 1 else 0,
                notes="[demo] 付款條件：簽約後 30 天內付款。報價含稅。",
            )
            count += 1
            if index == 1:
                lines[0]["discount_percent"] = 15
                quotes.quote_revise(actor=owner, quote=quote, lines=lines, notes=quote.notes)
            if index == 2 and name == "rep":
                quotes.quote_accept(actor=owner, quote=quote, note="客戶已回簽")
    return f"Created {count} demo quotes and commission rates."


@transaction.atomic
def seed_forecast_history(users, sellers, pipeline) -> str:
    if ForecastSnapshot.objects.exists():
        return "Forecast snapshots are already there; leaving them as they are."
    won_stage = pipeline.stages.filter(is_won=True).first()
    if won_stage is None:
        return "No won stage: no forecast history."
    rng = random.Random(7)
    this_month = timezone.localdate().replace(day=1)
    count = 0
    for name in sellers:
        owner = users.get(name)
        if owner is None:
            continue
        customer = owner.owned_customers.order_by("id").first()
        if customer is None:
            continue
        currency = "CNY" if name.endswith("2") else "TWD"
        for back in range(1, forecast.PAST_MONTHS + 1):
            month = forecast.add_months(this_month, -back)
            won = Decimal(rng.randrange(8, 40) * 10_000)
            closed = timezone.make_aware(dt.datetime.combine(month + dt.timedelta(days=14), dt.time(15)))
            deal = services.deal_create(
                now=closed,
                actor=owner,
                customer=customer,
                title=f"{month:%Y-%m} 續約",
                amount=won,
                currency=currency,
                stage=won_stage,
                expected_close_date=month + dt.timedelta(days=14),
                source=MARKER,
            )
            for task in Task.objects.filter(deal=deal, done_at__isnull=True):  # its after-sale call was made
                services.task_complete(task=task, actor=owner)
            weighted = (
                won * Decimal(str(OPTIMISM.get(name, 1.0))) * Decimal(rng.uniform(0.85, 1.15))
            ).quantize(Decimal("1"))
            ForecastSnapshot.objects.create(
                month=month,
                owner=owner,
                currency=currency,
                weighted=weighted,
                best_case=(weighted * Decimal("1.8")).quantize(Decimal("1")),
                committed=(weighted * Decimal("0.7")).quantize(Decimal("1")),
                deal_count=rng.randrange(3, 12),
                taken_at=timezone.make_aware(dt.datetime.combine(month, dt.time(1))),
            )
            count += 1
    forecast.forecast_snapshot_take()
    return f"Created {count} past forecast snapshots with the deals won in those months."
