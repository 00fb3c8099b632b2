"""Forecast, commission and quote pages over the sales benchmark's 10,000 open deals, on PostgreSQL.

    .venv/bin/python bench/sales_quotes.py [--deals 10000] [--quotes 300] [--database-url URL] [--only TEXT]

Builds on bench/sales.py's data (same generator, its own database by default): a team with an admin and
a sales rep, the open deals over the open stages (9 in 10 in TWD, the rest USD), 2,000 closed ones,
plus `--quotes` quotes of 10 lines, six months of forecast snapshots and a commission rate. Pages are
timed through django.test.Client in turns with a bare "hello" view (see bench/harness.py). The quote
PDF is timed too: WeasyPrint lays the page out each time (nothing is cached).
"""

import argparse
import datetime as dt
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import sales as sales_bench  # noqa: E402
from bench.harness import (  # noqa: E402
    Scenario,
    add_common_arguments,
    create_database_if_missing,
    explain,
    only,
    report,
    run,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_sales_quotes"


def main() -> int:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    create_database_if_missing(args.database_url)

    import django

    django.setup()
    from django.conf import settings

    settings.ROOT_URLCONF = "bench.urls"
    sales_bench.prepare(args)
    prepare_quotes(args.quotes)
    scenarios = build_scenarios()
    if args.only:
        scenarios = only(scenarios, args.only)
    run(scenarios, args)
    missed = report(scenarios)
    if args.explain:
        explain(scenarios)
    if missed:
        print(f"\nMissed targets: {', '.join(missed)}")
    return 1 if args.check and missed else 0


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--deals", type=int, default=10_000, help="open deals in the pipeline (default 10,000)"
    )
    parser.add_argument("--tasks", type=int, default=0, help="the rep's open tasks (default none)")
    parser.add_argument("--quotes", type=int, default=300, help="quotes of 10 lines (default 300)")
    add_common_arguments(parser, database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    return parser.parse_args()


def prepare_quotes(wanted: int) -> None:
    from django.utils import timezone

    from crm.models import User
    from sales import forecast, quotes
    from sales.models import CommissionRate, Deal, ForecastSnapshot, Quote

    rep = User.objects.get(username="bench-rep")
    CommissionRate.objects.get_or_create(
        user=None, team=None, pipeline=None, defaults={"percent": Decimal("2.5")}
    )
    have = Quote.objects.count()
    if have < wanted:
        print(f"Creating {wanted - have} quotes…")
        deals = Deal.objects.filter(status="open", source=sales_bench.MARKER).order_by("id")[have:wanted]
        for deal in deals:
            lines = [
                {
                    "description": f"項目 {n} 服務",
                    "quantity": n + 1,
                    "unit_price": 1000 + n * 333,
                    "discount_percent": n,
                }
                for n in range(10)
            ]
            quotes.quote_create(actor=rep, deal=deal, lines=lines, discount_percent=3)
    month = timezone.localdate().replace(day=1)
    for back in range(1, forecast.PAST_MONTHS + 1):
        for currency in ("TWD", "USD"):
            ForecastSnapshot.objects.get_or_create(
                month=forecast.add_months(month, -back),
                owner=rep,
                currency=currency,
                defaults={"weighted": Decimal(1_000_000 * back), "best_case": Decimal(2_000_000 * back)},
            )
    print(f"Quotes: {Quote.objects.count():,}")


def build_scenarios() -> list[Scenario]:
    from django.test import Client
    from django.urls import reverse

    from crm.models import User
    from sales.models import Quote

    def client_for(username):
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    admin, rep = client_for("bench-admin"), client_for("bench-rep")
    forecast_url = reverse("sales:forecast")
    start = dt.date.today().replace(day=1).strftime("%Y-%m")
    quote_pks = list(Quote.objects.order_by("-id").values_list("pk", flat=True)[:20])
    return [
        Scenario("hello (baseline)", [reverse("bench-hello")], admin),
        Scenario("forecast, 3 months (admin)", [forecast_url], admin, ("p95", 150)),
        Scenario("forecast, 3 months (sales rep)", [forecast_url], rep, ("p95", 150)),
        Scenario(
            "forecast, 12 months (admin)", [f"{forecast_url}?start={start}&months=12"], admin, ("p95", 150)
        ),
        Scenario("my commission (sales rep)", [reverse("sales:commission")], rep, ("p95", 150)),
        Scenario("quote list (sales rep)", [reverse("sales:quotes")], rep, ("p95", 150)),
        Scenario(
            "quote page, 10 lines", [reverse("sales:quote", args=[pk]) for pk in quote_pks], rep, ("p95", 150)
        ),
        Scenario("quote PDF, 10 lines", [reverse("sales:quote-pdf", args=[pk]) for pk in quote_pks], rep),
    ]


if __name__ == "__main__":
    sys.exit(main())
