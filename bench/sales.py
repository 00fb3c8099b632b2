"""The sales board with 10,000 open deals in one pipeline and "My day" with 1,000 tasks, on PostgreSQL.

    .venv/bin/python bench/sales.py [--deals 10000] [--tasks 1000] [--database-url URL] [--check] [--explain]

Uses its own database (created and migrated when missing) and fills it once: a team with an admin
and a sales rep, 2,000 customers, the open deals spread over the four open stages of the "Sales"
pipeline (plus closed ones), and the rep's tasks around today. Pages are timed through
django.test.Client (middleware, routing, views, templates; no network): p50/p95/p99 and how many
times slower than a bare "hello" view, measured in the same run, the median is. With --check the
exit status is 1 when a target is missed; --explain prints the plans of each page's slowest queries.
"""

import argparse
import datetime as dt
import os
import random
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

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

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_sales"
CUSTOMERS = 2_000
CLOSED_DEALS = 2_000
MARKER = "bench/sales.py"
TITLES = [
    "ERP 導入",
    "年度維護合約",
    "官網改版",
    "會員方案",
    "POS 系統",
    "CRM 授權",
    "Cloud backup",
    "Data migration",
]


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
    parser.add_argument("--tasks", type=int, default=1_000, help="the rep's open tasks (default 1,000)")
    add_common_arguments(parser, database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    return parser.parse_args()


def prepare(args) -> None:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from crm import roles
    from crm.models import Team, User

    call_command("migrate", verbosity=0)
    team, _created = Team.objects.get_or_create(name="Bench sales")
    for username, role in (("bench-admin", roles.ADMIN), ("bench-rep", roles.SALES_REP)):
        user, created = User.objects.get_or_create(username=username, defaults={"team": team})
        if created:
            user.set_password("bench-pass-2026")
            user.save()
            user.groups.add(Group.objects.get(name=role))
    rep = User.objects.get(username="bench-rep")
    seed_deals(rep, args.deals)
    seed_tasks(rep, args.tasks)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM sales_deal WHERE status = 'open'")
        (open_deals,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM sales_task WHERE done_at IS NULL")
        (open_tasks,) = cursor.fetchone()
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(f"Data: {open_deals:,} open deals, {open_tasks:,} open tasks")
    print(f"Database: {version.split(' on ')[0]}")


def seed_deals(rep, wanted: int) -> None:
    from django.utils import timezone

    from customers.models import Customer, Tag
    from sales.models import Deal, Pipeline

    pipeline = Pipeline.objects.get(name="Sales")
    have = Deal.objects.filter(pipeline=pipeline, status="open", source=MARKER).count()
    if have >= wanted:
        return
    rng = random.Random(2026)
    customers = list(Customer.objects.filter(source=MARKER).values_list("pk", flat=True))
    if len(customers) < CUSTOMERS:
        Customer.objects.bulk_create(
            Customer(name=f"客戶 {index:05d}", owner=rep, team=rep.team, source=MARKER)
            for index in range(len(customers), CUSTOMERS)
        )
        customers = list(Customer.objects.filter(source=MARKER).values_list("pk", flat=True))
    stages = list(pipeline.stages.all())
    open_stages = [s for s in stages if not s.is_closed]
    closed_stages = [s for s in stages if s.is_closed]
    now = timezone.now()
    today = timezone.localdate()

    def deal(stage, index):
        return Deal(
            customer_id=rng.choice(customers),
            title=f"{rng.choice(TITLES)} #{index}",
            amount=Decimal(rng.randrange(5, 2000) * 1000),
            currency="TWD" if rng.random() < 0.9 else "USD",
            expected_close_date=today + dt.timedelta(days=rng.randrange(-30, 180)),
            pipeline=pipeline,
            stage=stage,
            status="won" if stage.is_won else "lost" if stage.is_lost else "open",
            owner=rep,
            team=rep.team,
            source=MARKER,
            stage_changed_at=now - dt.timedelta(days=rng.randrange(0, 60)),
            last_activity_at=now - dt.timedelta(days=rng.randrange(0, 40)),
            closed_at=now - dt.timedelta(days=rng.randrange(0, 90)) if stage.is_closed else None,
        )

    print(f"Seeding {wanted - have:,} open deals and {CLOSED_DEALS:,} closed ones…")
    Deal.objects.bulk_create(
        (deal(rng.choice(open_stages), have + i) for i in range(wanted - have)), batch_size=2000
    )
    if not Deal.objects.filter(source=MARKER).exclude(status="open").exists():
        Deal.objects.bulk_create(
            (deal(rng.choice(closed_stages), i) for i in range(CLOSED_DEALS)), batch_size=2000
        )
    tag, _created = Tag.objects.get_or_create(name="Bench")
    Deal.tags.through.objects.bulk_create(
        [
            Deal.tags.through(deal_id=pk, tag_id=tag.pk)
            for pk in Deal.objects.filter(source=MARKER).values_list("pk", flat=True)[::10]
        ],
        ignore_conflicts=True,
    )


def seed_tasks(rep, wanted: int) -> None:
    from django.utils import timezone

    from customers.models import Customer
    from sales.models import Task

    have = Task.objects.filter(assignee=rep, done_at__isnull=True).count()
    if have >= wanted:
        return
    rng = random.Random(11)
    customers = list(Customer.objects.filter(source=MARKER).values_list("pk", flat=True)[:500])
    now = timezone.now()
    print(f"Seeding {wanted - have:,} tasks…")
    Task.objects.bulk_create(
        (
            Task(
                title=f"跟進 {index}",
                due_at=now + dt.timedelta(minutes=rng.randrange(-30 * 24 * 60, 30 * 24 * 60)),
                assignee=rep,
                team=rep.team,
                customer_id=rng.choice(customers),
                priority=rng.choice([1, 2, 2, 3]),
                reminder_sent_at=now,
            )
            for index in range(have, wanted)
        ),
        batch_size=2000,
    )


def build_scenarios() -> list[Scenario]:
    from django.test import Client
    from django.urls import reverse

    from crm.models import User
    from sales.models import Pipeline

    def client_for(username):
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    admin, rep = client_for("bench-admin"), client_for("bench-rep")
    rep_pk = User.objects.get(username="bench-rep").pk
    pipeline = Pipeline.objects.get(name="Sales")
    first_stage = pipeline.stages.first()
    board = reverse("sales:board")
    column = reverse("sales:board-column", args=[pipeline.pk, first_stage.pk])
    month = (dt.date.today().replace(day=1) + dt.timedelta(days=40)).strftime("%Y-%m")
    htmx_board = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "board"}
    return [
        Scenario("hello (baseline)", [reverse("bench-hello")], admin),
        Scenario("board, 10,000 open deals (admin)", [board], admin, ("p95", 150)),
        Scenario("board (sales rep)", [board], rep, ("p95", 150)),
        Scenario(
            "board filtered (htmx)",
            [f"{board}?{urlencode({'owner': rep_pk})}", f"{board}?{urlencode({'close_month': month})}"],
            admin,
            ("p95", 150),
            headers=htmx_board,
        ),
        Scenario("column, load more", [f"{column}?offset=50", f"{column}?offset=500"], admin, ("p95", 150)),
        Scenario(
            "deal list (sales rep)",
            [reverse("sales:deals"), f"{reverse('sales:deals')}?sort=-amount"],
            rep,
            ("p95", 150),
        ),
        Scenario("My day, 1,000 tasks", [reverse("sales:my-day")], rep, ("p95", 150)),
    ]


if __name__ == "__main__":
    sys.exit(main())
