"""How long counting a dynamic segment takes over a million customers (PostgreSQL).

    .venv/bin/python bench/data_ops_segments.py [--database-url URL] [--iterations 60] [--check] [--explain]

Works on its own copy of the lead's million-customer database: when the database named by
--database-url does not exist it is created with `CREATE DATABASE ... TEMPLATE crm_bench` (which needs
nobody connected to crm_bench) and migrated. Nothing is written to crm_bench itself.

Each scenario is one `customers.selectors.segment_count(segment=...)` call, i.e. the one
`SELECT COUNT(*)` a broadcast, an export or the rule builder's live count runs; "SELECT 1" is the
baseline measured in the same run, in turns with the others, and a plain count(*) of the customer table
shows what merely reading a million rows costs on the machine at that moment. The target is p95 ≤ 500 ms for the
three-rule segment. Importable: run(args) returns the scenarios, main() prints the table.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Scenario, report  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_segments"
TEMPLATE = "crm_bench"
TARGET = ("p95", 500.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--template", default=TEMPLATE)
    parser.add_argument("--iterations", type=int, default=60, help="timed counts per scenario (default 60)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each scenario's query")
    return parser.parse_args(argv)


def copy_database_if_missing(url: str, template: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    params = {"host": parts.hostname, "port": parts.port or 5432, "user": parts.username}
    if parts.password:
        params["password"] = parts.password
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        for attempt in range(30):  # the template must have no other session while it is copied
            try:
                print(f"Copying {template} to {name}…")
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
                # Per-database settings are not copied: repeat customers migration 0005's jit = off.
                conn.execute(sql.SQL("ALTER DATABASE {} SET jit = off").format(sql.Identifier(name)))
                return
            except psycopg.errors.ObjectInUse:
                print(f"{template} is in use; retrying ({attempt + 1}/30)")
                time.sleep(10)
        raise SystemExit(f"Could not copy {template}: it stayed in use.")


class CountClient:
    """What the harness calls a client: get(name) runs the named count."""

    def __init__(self, counts: dict):
        self.counts = counts
        self.results = {}

    def get(self, name, **_headers):
        self.results[name] = self.counts[name]()
        return self


def build_segments():
    """Three-rule segments over the generated data (tags, lifecycle stages, a five-entry timeline)."""
    from customers.models import Customer, Segment, Tag

    owner = Customer.objects.exclude(owner=None).values_list("owner_id", flat=True).first()
    tag_ids = list(Tag.objects.order_by("name").values_list("pk", flat=True)[:3])
    three_rules = {
        "match": "all",
        "rules": [
            {"field": "tags", "op": "any_of", "value": tag_ids[:2]},
            {"field": "lifecycle", "op": "in", "value": ["customer", "prospect"]},
            {"field": "last_interaction", "op": "within_days", "value": 180},
        ],
    }
    with_counts = {
        "match": "all",
        "rules": [
            {"field": "tags", "op": "any_of", "value": tag_ids[:1]},
            {"field": "interaction_count", "op": "at_least", "value": {"kind": "call", "count": 2}},
            {"field": "consent", "op": "not_granted", "value": "marketing"},
        ],
    }
    nested = {
        "match": "any",
        "rules": [
            {
                "match": "all",
                "rules": [
                    {"field": "owner", "op": "in", "value": [owner]},
                    {"field": "last_interaction", "op": "not_within_days", "value": 90},
                ],
            },
            {"field": "tags", "op": "all_of", "value": tag_ids[1:3]},
            {"field": "source", "op": "contains", "value": "line"},
        ],
    }
    made = {}
    for name, rules in (
        ("3 rules: tags, stage, recent", three_rules),
        ("3 rules: tag, 2+ calls, no consent", with_counts),
        ("OR of AND: owner idle, tags, source", nested),
    ):
        made[name], _created = Segment.objects.update_or_create(
            name=f"bench: {name}", defaults={"kind": Segment.Kind.DYNAMIC, "rules": rules}
        )
    return made


def run(args):
    from django.db import connection

    from crm.models import User
    from customers import selectors

    segments = build_segments()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        customers = cursor.fetchone()[0]
    print(f"{customers:,} customers in {connection.settings_dict['NAME']}")

    def select_one():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]

    def count_all():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers_customer")
            return cursor.fetchone()[0]

    counts = {"SELECT 1": select_one, "count(*) of all customers": count_all}
    counts.update(
        {name: (lambda s=segment: selectors.segment_count(segment=s)) for name, segment in segments.items()}
    )
    # What the rule builder's live count runs for people who see only part of the customers.
    three_rules = next(iter(segments.values()))
    for username in ("manager", "rep"):
        user = User.objects.filter(username=username).first()
        if user is not None:
            counts[f"3 rules, as the demo {username}"] = lambda u=user: selectors.segment_count(
                segment=three_rules, user=u
            )
    client = CountClient(counts)
    scenarios = [Scenario(name, [name], client) for name in counts]
    scenarios[2].target = TARGET
    for scenario in scenarios:
        for _ in range(args.warmup):
            client.get(scenario.name)
    for _ in range(args.iterations):
        for scenario in scenarios:
            started = time.perf_counter()
            client.get(scenario.name)
            scenario.timings.append((time.perf_counter() - started) * 1000)
    for name, result in client.results.items():
        if name not in ("SELECT 1", "count(*) of all customers"):
            print(f"  {name}: {result:,} customers")
    if args.explain:
        for name, segment in segments.items():
            queryset = selectors.segment_customers(segment=segment).order_by()
            print(f"\n=== {name}\n{queryset.query}\n{queryset.explain(analyze=True, buffers=True)}")
    return scenarios


def main(argv=None) -> int:
    args = parse_args(argv)
    copy_database_if_missing(args.database_url, args.template)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    scenarios = run(args)
    print(f"Load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    missed = report(scenarios)
    if missed:
        print(f"\nMissed targets: {', '.join(missed)}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
