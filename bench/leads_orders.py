"""The Leads page sorted by score over 100,000 leads, the orders pages, and the write paths of issue 6
items 5, 7 and 9 (assignment, idempotent orders, score recompute), on PostgreSQL.

    .venv/bin/python bench/leads_orders.py [--customers 100000] [--orders 50000] [--database-url URL]
                                           [--check] [--explain]

Uses its own database (created and migrated when missing) and fills it once: a team with an admin and
three sales reps, the customers (70% leads, 2,000 of them the rep's) with their lead scores, and the
orders. Pages are timed through django.test.Client like bench/sales.py (p50/p95/p99 and × a bare
"hello" view measured in the same run). The write paths are timed as plain function calls after the
pages: recording a timeline entry with and without the score hook (the task's enqueue replaced by a
no-op so no queue fills up), order_create new vs. an order number seen before, a round-robin
assignment, and recomputing the scores of 1,000 customers.
"""

import argparse
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    Scenario,
    add_common_arguments,
    create_database_if_missing,
    explain,
    only,
    report,
    run,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_leads"
MARKER = "bench/leads_orders.py"
REP_CUSTOMERS = 2_000


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
    prepare(args)
    scenarios = build_scenarios()
    if args.only:
        scenarios = only(scenarios, args.only)
    run(scenarios, args)
    missed = report(scenarios)
    if args.explain:
        explain(scenarios)
    time_writes(args)
    if missed:
        print(f"\nMissed targets: {', '.join(missed)}")
    return 1 if args.check and missed else 0


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--writes", type=int, default=200, help="timed calls per write path (default 200)")
    add_common_arguments(parser, database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    return parser.parse_args()


def prepare(args) -> None:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from crm import roles
    from crm.models import Team, User

    call_command("migrate", verbosity=0)
    team, _created = Team.objects.get_or_create(name="Bench leads")
    for username, role in (
        ("bench-admin", roles.ADMIN),
        ("bench-rep", roles.SALES_REP),
        ("bench-rep2", roles.SALES_REP),
        ("bench-rep3", roles.SALES_REP),
    ):
        user, created = User.objects.get_or_create(username=username, defaults={"team": team})
        if created:
            user.set_password("bench-pass-2026")
            user.save()
            user.groups.add(Group.objects.get(name=role))
    seed(args, User.objects.get(username="bench-rep"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM customers_customer WHERE lifecycle_stage = 'lead'")
        (leads,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM sales_order")
        (orders,) = cursor.fetchone()
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(f"Data: {leads:,} leads, {orders:,} orders")
    print(f"Database: {version.split(' on ')[0]}")


def seed(args, rep) -> None:
    from django.utils import timezone

    from customers.models import Customer
    from reports.models import CustomerScore
    from sales.models import Order

    rng = random.Random(2026)
    have = Customer.objects.filter(source=MARKER).count()
    if have < args.customers:
        print(f"Seeding {args.customers - have:,} customers with scores…")
        others = list(rep.team.members.exclude(pk=rep.pk))
        Customer.objects.bulk_create(
            (
                Customer(
                    name=f"潛在客戶 {index:06d}",
                    owner=rep if index < REP_CUSTOMERS else rng.choice(others),
                    team=rep.team,
                    source=MARKER,
                    lifecycle_stage="lead" if rng.random() < 0.7 else "customer",
                )
                for index in range(have, args.customers)
            ),
            batch_size=5000,
        )
        ids = Customer.objects.filter(source=MARKER, score__isnull=True).values_list("pk", flat=True)
        now = timezone.now()
        CustomerScore.objects.bulk_create(
            (
                CustomerScore(
                    customer_id=pk,
                    score=min(100, int(rng.expovariate(1 / 25))),
                    reasons=[
                        {"code": "phone", "points": 8},
                        {"code": "kind:order", "count": 1, "points": 12},
                    ],
                    computed_at=now,
                )
                for pk in ids.iterator()
            ),
            batch_size=5000,
        )
    have_orders = Order.objects.filter(number__startswith="BENCH-").count()
    if have_orders < args.orders:
        print(f"Seeding {args.orders - have_orders:,} orders…")
        ids = list(
            Customer.objects.filter(source=MARKER).order_by("pk").values_list("pk", flat=True)[:20_000]
        )
        now = timezone.now()
        Order.objects.bulk_create(
            (
                Order(
                    number=f"BENCH-{index:07d}",
                    customer_id=rng.choice(ids),
                    channel=rng.choice(["store", "ecommerce", "line_shop"]),
                    ordered_at=now - timezone.timedelta(minutes=rng.randrange(0, 365 * 24 * 60)),
                    amount=Decimal(rng.randrange(100, 50_000)),
                )
                for index in range(have_orders, args.orders)
            ),
            batch_size=5000,
        )


def build_scenarios() -> list[Scenario]:
    from django.test import Client
    from django.urls import reverse

    from crm.models import User
    from customers.models import Customer

    def client_for(username):
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    admin, rep = client_for("bench-admin"), client_for("bench-rep")
    leads, orders = reverse("sales:leads"), reverse("sales:orders")
    rep_customer = Customer.objects.filter(owner__username="bench-rep", orders__isnull=False).first()
    return [
        Scenario("hello (baseline)", [reverse("bench-hello")], admin),
        Scenario("leads by score, 70k leads (admin)", [leads, f"{leads}?page=40"], admin, ("p95", 150)),
        Scenario(
            "leads filtered (admin)",
            [f"{leads}?min_score=60", f"{leads}?max_score=10&sort=score", f"{leads}?q=00012"],
            admin,
            ("p95", 150),
        ),
        Scenario("leads by score (sales rep)", [leads, f"{leads}?min_score=30"], rep, ("p95", 150)),
        Scenario("orders, 50k (admin)", [orders, f"{orders}?channel=line_shop&page=5"], admin, ("p95", 150)),
        Scenario("orders (sales rep)", [orders], rep, ("p95", 150)),
        Scenario("360 page with orders + score", [reverse("customers:detail", args=[rep_customer.pk])], rep),
        Scenario("orders API list (sales rep)", ["/api/v1/orders/"], rep, ("p95", 150)),
    ]


def _time(label, calls, fn, rows):
    timings = []
    for index in range(calls):
        started = time.perf_counter()
        fn(index)
        timings.append((time.perf_counter() - started) * 1000)
    ordered = sorted(timings)

    def pct(p):
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    rows.append((label, len(timings), statistics.median(timings), pct(95), pct(99)))


def time_writes(args) -> None:
    from django.db import transaction

    from crm.models import Team, User
    from customers import services as customer_services
    from customers.models import Customer
    from reports import scoring, tasks
    from sales import orders
    from sales.assignment import assignment_apply
    from sales.models import AssignmentLog, AssignmentRule, Order

    rep = User.objects.get(username="bench-rep")
    customers = list(Customer.objects.filter(owner=rep).order_by("pk")[:1000])
    rows = []
    enqueued = []
    tasks.recompute_score.apply_async = lambda *a, **k: enqueued.append(a)  # no queue fills up

    def interaction(index):
        with transaction.atomic():
            customer_services.record_interaction(
                customer=customers[index % 1000], kind="note", summary="bench"
            )

    original = customer_services.score_recompute_soon
    customer_services.score_recompute_soon = lambda customer_id: None
    _time("record_interaction, no score hook", args.writes, interaction, rows)
    customer_services.score_recompute_soon = original
    _time("record_interaction + score hook", args.writes, interaction, rows)

    run_id = int(time.time())

    def new_order(index):
        orders.order_create(
            actor=rep,
            number=f"W-{run_id}-{index}",
            customer=customers[index % 1000],
            amount=100,
            source="api",
        )

    def same_order(index):
        orders.order_create(
            actor=rep, number=f"W-{run_id}-0", customer=customers[0], amount=100, source="api"
        )

    _time("order_create, new number", args.writes, new_order, rows)
    _time("order_create, number seen before", args.writes, same_order, rows)

    team = Team.objects.get(name="Bench leads")
    rule, _created = AssignmentRule.objects.get_or_create(name="Bench round robin", defaults={"team": team})
    try:
        _time(
            "assignment_apply, round robin",
            args.writes,
            lambda index: assignment_apply(customer=customers[index % 1000]),
            rows,
        )
    finally:
        rule.delete()
        AssignmentLog.objects.filter(rule_name="Bench round robin").delete()
        Customer.objects.filter(pk__in=[c.pk for c in customers]).update(owner=rep, team=rep.team)
    ids = [c.pk for c in customers]
    _time("scores_recompute, 1,000 customers", 10, lambda index: scoring.scores_recompute(ids), rows)
    Order.objects.filter(number__startswith=f"W-{run_id}-").delete()

    print()
    print(f"{'write path':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for label, n, p50, p95, p99 in rows:
        print(f"{label:<34} {n:>5} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
