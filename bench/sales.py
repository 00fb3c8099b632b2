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
import gc
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


@dataclass
class Scenario:
    name: str
    urls: list[str]
    client: object
    target: tuple[str, float] | None = None
    headers: dict = field(default_factory=dict)
    timings: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.timings)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        which, limit = self.target
        return self.percentile(float(which[1:])) <= limit


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
    run(scenarios, args)
    report(scenarios)
    if args.explain:
        explain(scenarios)
    missed = [s.name for s in scenarios if s.met is False]
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
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument(
        "--iterations", type=int, default=300, help="timed requests per scenario (default 300)"
    )
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest queries")
    return parser.parse_args()


def create_database_if_missing(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    params = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": parts.username,
        "password": parts.password,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"Creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


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


def run(scenarios: list[Scenario], args) -> None:
    for scenario in scenarios:
        for i in range(args.warmup):
            url = scenario.urls[i % len(scenario.urls)]
            response = scenario.client.get(url, **scenario.headers)
            if response.status_code != 200:
                raise SystemExit(f"{scenario.name}: {url} answered {response.status_code}")
    gc.collect()
    # In turns, so that a slow moment of the machine spreads over every scenario instead of one.
    for i in range(args.iterations):
        for scenario in scenarios:
            url = scenario.urls[i % len(scenario.urls)]
            started = time.perf_counter()
            scenario.client.get(url, **scenario.headers)
            scenario.timings.append((time.perf_counter() - started) * 1000)


def report(scenarios: list[Scenario]) -> None:
    hello = statistics.median(scenarios[0].timings)
    print()
    print(f"{'scenario':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p50 × hello':>12}  target")
    for s in scenarios:
        target = (
            "" if s.target is None else f"{s.target[0]} ≤ {s.target[1]:g} ms " + ("ok" if s.met else "MISSED")
        )
        p50 = s.percentile(50)
        print(
            f"{s.name:<34} {len(s.timings):>5} {p50:>8.2f} {s.percentile(95):>8.2f} {s.percentile(99):>8.2f}"
            f" {p50 / hello:>11.1f}×  {target}"
        )


def explain(scenarios: list[Scenario]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for scenario in scenarios[1:]:
        url = scenario.urls[0]
        with CaptureQueriesContext(connection) as captured:
            scenario.client.get(url, **scenario.headers)
        queries = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
        print(f"\n=== {scenario.name}: {url} — {len(queries)} queries")
        for query in queries[:2]:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"--- {query['time']} s\n{query['sql']}\n{plan}")


if __name__ == "__main__":
    sys.exit(main())
