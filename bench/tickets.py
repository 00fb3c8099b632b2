"""Ticket queue pages with 200,000 tickets and the SLA sweep over 50,000 open tickets, on PostgreSQL.

    .venv/bin/python bench/tickets.py [--tickets 200000] [--sweep 50000] [--database-url URL] [--check]

Uses its own database (created and migrated when missing) and fills it once with COPY: four teams,
40 agents, 20,000 customers and the tickets, spread over a year in realistic proportions of status,
priority, assignee and SLA state. Pages are timed through django.test.Client (middleware, routing,
views, templates; no network) with p50/p95/p99 and the ratio of the median to a bare "hello" view
measured in the same run. Then 50,000 unresolved tickets are made due for a warning and a breach at
once and the sweep is timed over all of them, twice (the second run must find nothing to do).
With --check the exit status is 1 when a target is missed; --explain prints query plans.
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
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

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_tickets"
TEAMS = ["Taipei support", "Taichung support", "Kaohsiung support", "Shanghai support"]
AGENTS_PER_TEAM = 10
CUSTOMERS = 20_000
MARKER = {"generated_by": "bench/tickets.py"}
STATUS_WEIGHTS = {"closed": 55, "solved": 15, "new": 5, "open": 15, "pending": 6, "on_hold": 4}
PRIORITY_WEIGHTS = {"low": 15, "normal": 60, "high": 20, "urgent": 5}
SOURCE_WEIGHTS = {"phone": 40, "line": 25, "wechat": 5, "email": 15, "web": 10, "manual": 5}
SUBJECTS = [
    "包裹破損，要求退貨",
    "發票抬頭錯誤",
    "無法登入會員帳號",
    "訂單尚未出貨",
    "退款還沒收到",
    "LINE 綁定失敗",
    "Wrong size delivered",
    "Invoice needs a tax id",
    "App crashes at checkout",
    "Change delivery address",
]
SWEEP_TARGET_SECONDS = 10.0


def main() -> int:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["CELERY_BROKER_URL"] = "memory://"  # escalation e-mails are queued, not sent, in the bench
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
    if not args.skip_sweep:
        sweep_seconds = sweep(args)
        if sweep_seconds > SWEEP_TARGET_SECONDS:
            missed.append(f"SLA sweep over {args.sweep:,} tickets")
    if missed:
        print(f"\nMissed targets: {', '.join(missed)}")
    return 1 if args.check and missed else 0


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--sweep", type=int, default=50_000, help="unresolved tickets the sweep must process")
    parser.add_argument("--skip-sweep", action="store_true")
    add_common_arguments(
        parser, database_url=os.environ.get("BENCH_TICKETS_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    return parser.parse_args()


def prepare(args) -> None:
    from django.core.management import call_command
    from django.db import connection

    from tickets.models import Ticket

    call_command("migrate", verbosity=0)
    people = staff()
    customer_ids = customers(people)
    have = Ticket.objects.count()
    if have < args.tickets:
        print(f"Loading {args.tickets - have:,} tickets ({have:,} there)")
        started = time.monotonic()
        load_tickets(args.tickets - have, start_number=have + 1, people=people, customer_ids=customer_ids)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tickets_ticket")
            cursor.execute("VACUUM ANALYZE tickets_ticket_tags")
        print(f"Loaded in {time.monotonic() - started:,.0f} s")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status IN ('new','open','pending','on_hold'), count(*) FROM tickets_ticket GROUP BY 1"
        )
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(
        f"Data: {sum(counts.values()):,} tickets, {counts.get(True, 0):,} unresolved; {CUSTOMERS:,} customers"
    )
    print(f"Database: {version.split(' on ')[0]}")


def staff() -> dict:
    from django.contrib.auth.models import Group

    from crm import roles
    from crm.models import Team, User

    def user(username, role, team=None):
        person, created = User.objects.get_or_create(
            username=username, defaults={"team": team, "first_name": username.replace("bench-", "").title()}
        )
        if created:
            person.set_password("bench-pass-123")
            person.save()
            person.groups.add(Group.objects.get(name=role))
        return person

    teams = [Team.objects.get_or_create(name=name)[0] for name in TEAMS]
    admin = user("bench-admin", roles.ADMIN, teams[0])
    manager = user("bench-manager", roles.MANAGER, teams[0])
    if teams[0].manager_id != manager.pk:
        teams[0].manager = manager
        teams[0].save()
    agents = [
        user(f"bench-agent-{team_index}-{n}", roles.AGENT, team)
        for team_index, team in enumerate(teams)
        for n in range(AGENTS_PER_TEAM)
    ]
    return {"admin": admin, "manager": manager, "agents": agents, "teams": teams}


def customers(people) -> list[int]:
    from customers.models import Customer

    existing = list(Customer.objects.filter(custom_attributes__contains=MARKER).values_list("pk", flat=True))
    if len(existing) >= CUSTOMERS:
        return existing
    rng = random.Random(7)
    surnames, given = (
        "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐",
        ["淑芬", "志明", "雅婷", "建宏", "美惠", "家豪", "怡君", "俊傑"],
    )
    Customer.objects.bulk_create(
        [
            Customer(
                name=rng.choice(surnames) + rng.choice(given),
                team=rng.choice(people["teams"]),
                lifecycle_stage="customer",
                custom_attributes=MARKER,
            )
            for _ in range(CUSTOMERS - len(existing))
        ],
        batch_size=5000,
    )
    return list(Customer.objects.filter(custom_attributes__contains=MARKER).values_list("pk", flat=True))


def load_tickets(count: int, *, start_number: int, people: dict, customer_ids: list[int]) -> None:
    from django.db import connection
    from django.utils import timezone

    from tickets.models import Category, SlaPolicy, TicketTag

    rng = random.Random(2026 + start_number)
    now = timezone.now()
    categories = list(Category.objects.values_list("pk", flat=True))
    policies = dict(SlaPolicy.objects.filter(active=True).exclude(priority="").values_list("priority", "pk"))
    tag_ids = [
        TicketTag.objects.get_or_create(name=name)[0].pk for name in ("退貨", "VIP", "refund", "bug", "物流")
    ]
    agents_by_team = {}
    for agent in people["agents"]:
        agents_by_team.setdefault(agent.team_id, []).append(agent.pk)

    def pick(weights):
        return rng.choices(list(weights), weights=list(weights.values()))[0]

    columns = [
        "number",
        "customer_id",
        "subject",
        "description",
        "category_id",
        "priority",
        "status",
        "assignee_id",
        "team_id",
        "assigned_via",
        "assigned_at",
        "source",
        "custom_fields",
        "created_by_id",
        "created_at",
        "updated_at",
        "first_responded_at",
        "solved_at",
        "closed_at",
        "version",
        "sla_policy_id",
        "first_response_due",
        "first_response_warn_at",
        "resolution_due",
        "resolution_warn_at",
        "sla_paused_at",
        "sla_paused_seconds",
        "sla_state",
        "sla_due",
        "sla_check_at",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tickets_ticket")
        (first_id,) = cursor.fetchone()
        sql = f"COPY tickets_ticket (id, {', '.join(columns)}) FROM STDIN"
        tag_rows = []
        with cursor.copy(sql) as copy:
            for offset in range(count):
                ticket_id = first_id + offset + 1
                created = now - dt.timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
                status = pick(STATUS_WEIGHTS)
                priority = pick(PRIORITY_WEIGHTS)
                team = rng.choice(people["teams"])
                unresolved = status in ("new", "open", "pending", "on_hold")
                assignee = (
                    rng.choice(agents_by_team[team.pk]) if not unresolved or rng.random() < 0.85 else None
                )
                first_due = created + dt.timedelta(hours=rng.choice((1, 2, 4, 9)))
                resolution_due = first_due + dt.timedelta(days=rng.choice((1, 3, 5)))
                responded = None if status == "new" else created + dt.timedelta(minutes=rng.randrange(5, 600))
                solved = closed = None
                paused_at = None
                if unresolved:
                    state = pick({"ok": 60, "warning": 10, "breached": 30})
                    if state == "ok":
                        resolution_due = now + dt.timedelta(minutes=rng.randrange(90, 7 * 24 * 60))
                    elif state == "warning":
                        resolution_due = now + dt.timedelta(minutes=rng.randrange(1, 30))
                    else:
                        resolution_due = now - dt.timedelta(minutes=rng.randrange(1, 30 * 24 * 60))
                    next_due = resolution_due
                    if status == "pending":
                        state, paused_at = "paused", now - dt.timedelta(hours=rng.randrange(1, 72))
                        next_due = None
                    check_at = (
                        None if state in ("paused", "breached") else resolution_due - dt.timedelta(minutes=30)
                    )
                else:
                    solved = (responded or created) + dt.timedelta(hours=rng.randrange(1, 200))
                    closed = solved + dt.timedelta(days=2) if status == "closed" else None
                    state = "breached" if solved > resolution_due else "met"
                    next_due = check_at = None
                updated = max(filter(None, (created, responded, solved, closed)))
                copy.write_row(
                    (
                        ticket_id,
                        start_number + offset,
                        rng.choice(customer_ids),
                        rng.choice(SUBJECTS),
                        "",
                        rng.choice(categories) if categories and rng.random() < 0.8 else None,
                        priority,
                        status,
                        assignee,
                        team.pk,
                        "round_robin" if assignee else "",
                        created if assignee else None,
                        pick(SOURCE_WEIGHTS),
                        "{}",
                        people["admin"].pk,
                        created,
                        updated,
                        responded,
                        solved,
                        closed,
                        1,
                        policies.get(priority),
                        first_due,
                        first_due - dt.timedelta(minutes=30),
                        resolution_due,
                        resolution_due - dt.timedelta(minutes=30),
                        paused_at,
                        0,
                        state,
                        next_due,
                        check_at,
                    )
                )
                if rng.random() < 0.2:
                    tag_rows.append((ticket_id, rng.choice(tag_ids)))
        with cursor.copy("COPY tickets_ticket_tags (ticket_id, tickettag_id) FROM STDIN") as copy:
            for row in tag_rows:
                copy.write_row(row)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), (SELECT MAX(id) FROM tickets_ticket))"
        )


# Pages --------------------------------------------------------------------------------------------


def build_scenarios() -> list[Scenario]:
    from django.test import Client
    from django.urls import reverse

    from crm.models import User
    from tickets.models import Ticket

    def client_for(username):
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    admin, manager = client_for("bench-admin"), client_for("bench-manager")
    agent_name = "bench-agent-0-3"
    agent = client_for(agent_name)
    agent_ids = list(
        User.objects.filter(username__startswith="bench-agent-").values_list("pk", flat=True)[:12]
    )
    queue = reverse("tickets:queue")

    def urls(*queries):
        return [f"{queue}?{urlencode(query, doseq=True)}" for query in queries]

    detail_ids = list(Ticket.objects.filter(status="open").order_by("?").values_list("pk", flat=True)[:20])
    p95 = ("p95", 100.0)
    return [
        Scenario("hello (baseline)", [reverse("bench-hello")], admin),
        Scenario("queue, all tickets (admin)", urls({"tab": "all"}), admin, p95),
        Scenario(
            "queue, status filter", urls(*({"tab": "all", "status": s} for s in STATUS_WEIGHTS)), admin, p95
        ),
        Scenario(
            "queue, assignee filter", urls(*({"tab": "all", "assignee": pk} for pk in agent_ids)), admin, p95
        ),
        Scenario(
            "queue, breached (SLA filter)",
            urls({"tab": "all", "sla": "breached"}, {"tab": "team", "sla": "breached"}),
            admin,
            p95,
        ),
        Scenario("queue, breaching soon tab", urls({"tab": "breaching"}), admin, p95),
        Scenario(
            "queue, status+assignee+SLA",
            urls(*({"tab": "all", "status": "open", "assignee": pk, "sla": "breached"} for pk in agent_ids)),
            admin,
            p95,
        ),
        Scenario("queue, unassigned tab", urls({"tab": "unassigned"}), admin, p95),
        Scenario("queue, page 20", urls({"tab": "all", "page": 20}), admin, p95),
        Scenario("queue, team tab (manager)", urls({"tab": "team"}), manager, p95),
        Scenario("queue, my tab (agent)", urls({"tab": "my"}), agent, p95),
        Scenario("queue, team tab (agent)", urls({"tab": "team"}), agent, p95),
        Scenario("queue, all visible (agent)", urls({"tab": "all"}), agent, p95),
        Scenario(
            "queue htmx table (filter)",
            urls(*({"tab": "all", "status": "open", "sla": s} for s in ("ok", "warning", "breached"))),
            admin,
            p95,
            headers={"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "ticket-table"},
        ),
        Scenario("ticket page", [reverse("tickets:detail", args=[pk]) for pk in detail_ids], admin, p95),
    ]


# The SLA sweep ------------------------------------------------------------------------------------


def sweep(args) -> float:
    """Make `args.sweep` unresolved tickets due for a first-response warning and breach, then sweep."""
    from django.db import connection
    from django.utils import timezone

    from tickets.models import Escalation, SlaEvent, SlaPolicy
    from tickets.services import sla_sweep

    now = timezone.now()
    normal = SlaPolicy.objects.filter(active=True, priority="normal").values_list("pk", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tickets_slaevent, tickets_escalation")
        cursor.execute("UPDATE tickets_ticket SET sla_check_at = NULL WHERE sla_check_at IS NOT NULL")
        cursor.execute(
            """
            UPDATE tickets_ticket SET
                status = CASE WHEN status = 'pending' THEN 'open' ELSE status END,
                first_responded_at = NULL, sla_paused_at = NULL, sla_state = 'ok', sla_policy_id = %(policy)s,
                first_response_warn_at = %(now)s - interval '40 minutes',
                first_response_due = %(now)s - interval '10 minutes',
                resolution_warn_at = %(now)s + interval '2 hours', resolution_due = %(now)s + interval '3 hours',
                sla_due = %(now)s - interval '10 minutes', sla_check_at = %(now)s - interval '40 minutes'
            WHERE id IN (
                SELECT id FROM tickets_ticket WHERE status IN ('new', 'open', 'pending', 'on_hold')
                ORDER BY id LIMIT %(n)s
            )
            """,
            {"now": now, "policy": normal, "n": args.sweep},
        )
        prepared = cursor.rowcount
        cursor.execute("VACUUM ANALYZE tickets_ticket")
    print(f"\nSLA sweep: {prepared:,} tickets due for a first-response warning and breach")
    started = time.perf_counter()
    result = sla_sweep(now=now)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = sla_sweep(now=now)
    second = time.perf_counter() - started
    events, escalations = SlaEvent.objects.count(), Escalation.objects.count()
    print(f"{'run':<34} {'tickets':>8} {'batches':>8} {'seconds':>9} {'tickets/s':>10}")
    print(
        f"{'first (everything due)':<34} {result.tickets:>8,} {result.batches:>8} {first:>9.2f}"
        f" {result.tickets / first:>10,.0f}"
    )
    print(f"{'second (nothing left)':<34} {again.tickets:>8,} {again.batches:>8} {second:>9.3f}")
    print(
        f"recorded: {events:,} SLA events, {escalations:,} escalations; target {SWEEP_TARGET_SECONDS:g} s "
        + ("ok" if first <= SWEEP_TARGET_SECONDS else "MISSED")
    )
    print(
        json.dumps(
            {"sweep_seconds": round(first, 2), "tickets": result.tickets, "repeat_seconds": round(second, 3)}
        )
    )
    return first


if __name__ == "__main__":
    sys.exit(main())
