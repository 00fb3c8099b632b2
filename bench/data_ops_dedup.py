"""The duplicate scan over a million customers on PostgreSQL, plus merge, undo and a data export.

    .venv/bin/python bench/data_ops_dedup.py [--database-url URL] [--runs 5] [--duplicates-percent 1]

Works on its own copy of the benchmark database (default crm_bench_dedup, made with
`CREATE DATABASE crm_bench_dedup TEMPLATE crm_bench` and migrated; never crm_bench itself). Before
measuring it adds look-alike customers, once: for `--duplicates-percent` of the customers a second
record with the same name (upper-cased, as typed by someone else) and the original's phone numbers
and e-mail addresses; every tenth look-alike of an organisation member stays in the organisation
with its name only (found by trigram similarity), and a few share a LINE id. Then it times
`customers.dedup.duplicates_scan()` (whole scan, one transaction, upserting the pairs) `--runs`
times, and customer_merge / customer_merge_undo / the data-subject export on look-alike pairs.

`run(argv)` returns the rows and `main()` prints them; bench/data_ops.py calls `run`.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_dedup"
SOURCE = "bench-dedup"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--runs", type=int, default=5, help="timed scans (default 5)")
    parser.add_argument("--duplicates-percent", type=float, default=1.0)
    parser.add_argument("--merges", type=int, default=30, help="merges (and undos) timed (default 30)")
    return parser.parse_args(argv)


def setup(database_url: str) -> None:
    if database_url.rstrip("/").endswith("/crm_bench"):
        raise SystemExit("Refusing to write to crm_bench: copy it (CREATE DATABASE ... TEMPLATE crm_bench).")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    import django

    django.setup()


def add_lookalikes(percent: float) -> int:
    """Add the look-alike customers once; returns how many there are."""
    from django.db import connection, transaction

    from customers.models import Customer

    existing = Customer.objects.filter(source=SOURCE).count()
    if existing:
        return existing
    modulo = max(1, round(100 / percent))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (kind, name, organisation_id, owner_id, team_id, lifecycle_stage,
                source, custom_attributes, created_at, updated_at)
            SELECT kind, UPPER(name), CASE WHEN id %% 10 = 0 THEN organisation_id END, owner_id, team_id,
                lifecycle_stage, %s, jsonb_build_object('lookalike_of', id), now(), now()
            FROM customers_customer
            WHERE id %% %s = 3 AND source <> %s AND kind = 'person'
            """,
            [SOURCE, modulo, SOURCE],
        )
        cursor.execute(
            """
            INSERT INTO customers_contactpoint (customer_id, kind, value, normalised, extension, label,
                is_primary, created_at)
            SELECT c.id, cp.kind, cp.value, cp.normalised, cp.extension, '', cp.is_primary, now()
            FROM customers_customer c
            JOIN customers_contactpoint cp ON cp.customer_id = (c.custom_attributes->>'lookalike_of')::bigint
            WHERE c.source = %s AND c.organisation_id IS NULL
            """,
            [SOURCE],
        )
        cursor.execute(
            """
            INSERT INTO customers_socialidentity (customer_id, provider, channel, external_id, display_name,
                avatar_url, followed, created_at)
            SELECT c.id, 'line', 'bench-' || c.id, 'U' || md5((c.custom_attributes->>'lookalike_of')), '', '',
                true, now()
            FROM customers_customer c WHERE c.source = %s AND c.id %% 50 = 0
            UNION ALL
            SELECT (c.custom_attributes->>'lookalike_of')::bigint, 'line', 'bench-o' || c.id,
                'U' || md5((c.custom_attributes->>'lookalike_of')), '', '', true, now()
            FROM customers_customer c WHERE c.source = %s AND c.id %% 50 = 0
            """,
            [SOURCE, SOURCE],
        )
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE customers_contactpoint")
        cursor.execute("ANALYZE customers_socialidentity")
    return Customer.objects.filter(source=SOURCE).count()


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(name, timings, note=""):
    return {
        "name": name,
        "n": len(timings),
        "p50": statistics.median(timings),
        "p95": percentile(timings, 95),
        "p99": percentile(timings, 99),
        "note": note,
    }


def run(argv=None) -> list[dict]:
    args = parse_args(argv)
    setup(args.database_url)
    from django.db import connection
    from django.db.models import Count

    from crm.models import User
    from customers import dedup, privacy
    from customers.merging import customer_merge, customer_merge_undo
    from customers.models import Customer, DuplicateCandidate

    lookalikes = add_lookalikes(args.duplicates_percent)
    customers = Customer.objects.count()
    print(f"{customers:,} customers, {lookalikes:,} of them look-alikes added by this benchmark")
    rows = []

    baseline = []
    for _ in range(args.runs):
        with connection.cursor() as cursor:
            ms, _result = timed(cursor.execute, "SELECT count(*) FROM customers_contactpoint")
        baseline.append(ms)
    rows.append(row("baseline: count(*) contact points", baseline, "same-run reference for machine load"))

    scans, counts = [], {}
    for _ in range(args.runs):
        ms, counts = timed(dedup.duplicates_scan)
        scans.append(ms)
    by_reason = dict(
        DuplicateCandidate.objects.filter(status="open")
        .order_by()
        .values_list("reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    )
    rows.append(
        row(
            f"duplicate scan, {customers:,} customers",  # look-alikes included
            scans,
            f"{counts['open']:,} open pairs ({', '.join(f'{k} {v:,}' for k, v in sorted(by_reason.items()))})",
        )
    )

    admin = User.objects.filter(is_superuser=True).first()
    pairs = list(
        DuplicateCandidate.objects.filter(status="open", reason="phone")
        .order_by("id")
        .values_list("customer_a_id", "customer_b_id")[: args.merges]
    )
    merges, undos, merged = [], [], []
    for first, second in pairs:
        ms, merge = timed(customer_merge, actor=admin, winner=Customer(pk=first), loser=Customer(pk=second))
        merges.append(ms)
        merged.append(merge)
    for merge in reversed(merged):
        ms, _result = timed(customer_merge_undo, actor=admin, merge=merge)
        undos.append(ms)
    if merges:
        rows.append(row("customer_merge (phone pair)", merges, "locks, moves 8 providers' rows, audit"))
        rows.append(row("customer_merge_undo", undos, "newest first"))

    exports = []
    for first, _second in pairs[:10]:
        ms, _result = timed(
            privacy.customer_data_export, actor=admin, customer=Customer.objects.get(pk=first)
        )
        exports.append(ms)
    if exports:
        rows.append(row("data-subject export (zip)", exports, "JSON + CSV of every section"))
    return rows


def print_table(rows) -> None:
    print(f"\n{'measurement':<40} {'n':>4} {'p50 ms':>10} {'p95 ms':>10} {'p99 ms':>10}  note")
    for r in rows:
        print(
            f"{r['name']:<40} {r['n']:>4} {r['p50']:>10.1f} {r['p95']:>10.1f} {r['p99']:>10.1f}  {r['note']}"
        )


def main(argv=None) -> int:
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = run(argv)
    print_table(rows)
    print(f"Load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
