"""Customer pages on PostgreSQL with a million customers, measured through the whole Django stack.

    .venv/bin/python bench/customers.py [--customers 1000000] [--database-url URL] [--check] [--explain]

Uses its own database (created, migrated and seeded with `seed_demo --customers N` when it holds
fewer generated customers than asked), gives one customer a 10,000-entry timeline, then times
requests made with django.test.Client (middleware, URL routing, views, templates; no network)
logged in as the demo admin. Each line shows p50/p95/p99 and how many times slower than a bare
"hello" view, measured in the same run, its median is. With --check the exit status is 1 when a
target is missed; --explain prints EXPLAIN ANALYZE of each page's slowest queries.
"""

import argparse
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

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench"
TIMELINE_LENGTH = 10_000
SEARCH_TERMS = {
    "1 character": ["王", "陳", "林", "张", "鍾", "詹"],
    "2 characters": ["雅婷", "小明", "建华", "志豪", "美惠", "婷瑋"],
    "3 characters": ["陳雅婷", "王建华", "林志明", "有限公"],
    "Latin": ["chen", "Amy", "lin", "Kevin W", "harbor"],
}


def main() -> int:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query in memory, which is not what production does
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    create_database_if_missing(args.database_url)

    import django

    django.setup()
    from django.conf import settings

    settings.ROOT_URLCONF = "bench.urls"
    prepare(args)
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    scenarios = build_scenarios(args)
    if args.only:
        scenarios = only(scenarios, args.only)
    run(scenarios, args)
    print(f"Load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
        "--customers", type=int, default=1_000_000, help="generated customers (default 1,000,000)"
    )
    parser.add_argument("--interactions-per-customer", type=int, default=5)
    add_common_arguments(parser, database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    return parser.parse_args()


def prepare(args) -> None:
    from django.core.management import call_command
    from django.db import connection

    from customers.management import bulk

    call_command("migrate", verbosity=0)
    have = bulk.generated_count()
    if have < args.customers:
        print(f"Seeding: {have:,} generated customers, {args.customers:,} asked for")
        started = time.monotonic()
        call_command(
            "seed_demo", customers=args.customers, interactions_per_customer=args.interactions_per_customer
        )
        print(f"Seeded in {time.monotonic() - started:,.0f} s")
    else:
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115 - demo users only, quietly
    long_history_customer()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        (customers,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM customers_interaction")
        (interactions,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM customers_contactpoint")
        (contacts,) = cursor.fetchone()
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(f"Data: {customers:,} customers, {contacts:,} contact points, {interactions:,} timeline entries")
    print(f"Database: {version.split(' on ')[0]}")


def long_history_customer():
    """The customer whose 360 page is measured: created once, topped up to TIMELINE_LENGTH entries."""
    from crm.models import User
    from customers import services
    from customers.management import bulk
    from customers.models import Customer

    customer = Customer.objects.filter(custom_attributes__benchmark="long timeline").first()
    if customer is None:
        customer = services.customer_create(
            actor=User.objects.get(username="rep"),
            name="陳淑芬",
            lifecycle_stage=Customer.Lifecycle.CUSTOMER,
            source="門市",
            tags=["VIP", "回購客"],
            custom_attributes={"benchmark": "long timeline"},
            contacts=services.ContactInput(phones=["0911-222-333"], emails=["shufen.chen@example.com"]),
        )
    missing = TIMELINE_LENGTH - customer.interactions.count()
    if missing > 0:
        bulk.extend_timeline(customer=customer, count=missing)
    return customer


def phone_variants(e164: str) -> list[str]:
    """The same number typed the ways people type it."""
    if e164.startswith("+886"):
        national = e164[4:]
        if national.startswith("9"):
            a, b, c = national[:3], national[3:6], national[6:]
            return [e164, f"0{a}-{b}-{c}", f"+886 {a} {b} {c}", f"886{national}", f"0{national}"]
        area, local = national[0], national[1:]
        return [e164, f"(0{area}){local[:-4]}-{local[-4:]}", f"0{area}-{local}", f"+886 {area} {local}"]
    national = e164[3:]
    return [e164, f"+86 {national[:3]} {national[3:7]} {national[7:]}", f"86{national}"]


def build_scenarios(args) -> list[Scenario]:
    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from crm.models import User
    from customers.selectors import encode_cursor, timeline_page

    def client_for(username):
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    admin, rep, agent = client_for("admin"), client_for("rep"), client_for("agent")
    rng = random.Random(2026)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT normalised FROM customers_contactpoint TABLESAMPLE SYSTEM (1) "
            "WHERE kind = 'phone' AND extension = '' LIMIT 400"
        )
        numbers = [row[0] for row in cursor.fetchall()]
    rng.shuffle(numbers)
    typed = [rng.choice(phone_variants(number)) for number in numbers]
    lookup = reverse("customers:lookup")
    customer = long_history_customer()
    detail = reverse("customers:detail", args=[customer.pk])
    second_page = encode_cursor(timeline_page(customer=customer).entries[-1])
    listing = reverse("customers:list")
    scenarios = [
        Scenario("hello (baseline)", [reverse("bench-hello")], admin),
        Scenario(
            "phone lookup page", [f"{lookup}?{urlencode({'number': q})}" for q in typed], admin, ("p99", 5.0)
        ),
        Scenario(
            "phone lookup page (agent)",
            [f"{lookup}?{urlencode({'number': q})}" for q in typed],
            agent,
            ("p99", 5.0),
        ),
    ]
    try:
        api = reverse("customer-list")
    except NoReverseMatch:
        api = None
    if api:
        scenarios.append(
            Scenario(
                "phone lookup API", [f"{api}?{urlencode({'phone': q})}" for q in typed], admin, ("p99", 5.0)
            )
        )
    all_terms = [term for terms in SEARCH_TERMS.values() for term in terms]
    scenarios.append(
        Scenario(
            "name search (all terms)",
            [f"{listing}?{urlencode({'q': t})}" for t in all_terms],
            admin,
            ("p95", 100),
        )
    )
    for label, terms in SEARCH_TERMS.items():
        scenarios.append(
            Scenario(
                f"  search, {label}", [f"{listing}?{urlencode({'q': t})}" for t in terms], admin, ("p95", 100)
            )
        )
    scenarios += [
        Scenario(
            "name search (sales rep)",
            [f"{listing}?{urlencode({'q': t})}" for t in all_terms],
            rep,
            ("p95", 100),
        ),
        Scenario("list page", [listing], admin, ("p95", 100)),
        Scenario("list page (sales rep)", [listing], rep, ("p95", 100)),
        Scenario("list page 40 (admin)", [f"{listing}?page=40"], admin, ("p95", 100)),
        Scenario("360 page, 10,000 entries", [detail], admin, ("p95", 100)),
        Scenario(
            "360 timeline, next page (htmx)",
            [f"{detail}?{urlencode({'cursor': second_page})}"],
            admin,
            ("p95", 100),
            headers={"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "timeline-more"},
        ),
    ]
    return scenarios


if __name__ == "__main__":
    sys.exit(main())
