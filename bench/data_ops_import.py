"""Customer import and export speed and memory on PostgreSQL, through the code the Celery tasks run.

    .venv/bin/python bench/data_ops_import.py [--rows 100000] [--baseline-rows 10000] [--database-url URL]

Uses its own database (created and migrated when missing; its customers are emptied first), writes
a CSV of generated Taiwanese and mainland customers (two phone columns, e-mail, tags, owner,
lifecycle, a custom attribute; about 1% bad phone numbers, 1% rows matching customers already
there), and runs the import job on it as the Celery worker would (import_run), then exports every
customer to CSV (export_run). The smaller baseline import runs first in the same process: peak
memory that does not grow with the row count is what "constant memory" means. Per-batch times
(1,000 rows each) give the median/p95/p99 columns.

bench/data_ops.py calls run(); main() is the command line.
"""

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_import"
TARGET_SECONDS = 60.0
SURNAMES = "陳林黃張李王吳劉蔡楊许郑谢郭洪曾邱廖赖周"
GIVEN = [
    "怡君",
    "志豪",
    "雅婷",
    "建宏",
    "淑芬",
    "家豪",
    "美玲",
    "宗翰",
    "佩珊",
    "伟",
    "芳",
    "秀英",
    "敏",
    "静",
]
TAGS = ["VIP", "回購", "展覽名單", "北部", "南部", "newsletter"]
STAGES = ["Lead", "Prospect", "Customer", "Churned"]


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query in memory, which is not what production does
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    create_database_if_missing(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def empty_customers() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_customer, customers_datajob, crm_accesslog RESTART IDENTITY CASCADE"
        )


def ensure_owners():
    from django.contrib.auth.models import Group

    from crm import roles
    from crm.models import Team, User

    team, _created = Team.objects.get_or_create(name="Bench team")
    owners = []
    for name in ("bench-admin", "bench-rep-1", "bench-rep-2"):
        user, created = User.objects.get_or_create(
            username=name, defaults={"team": team, "email": f"{name}@example.com"}
        )
        if created:
            user.groups.add(Group.objects.get(name=roles.ADMIN if name == "bench-admin" else roles.SALES_REP))
        owners.append(user)
    return owners


def write_csv(path: Path, rows: int, *, seed: int = 7, offset: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "手機", "市話", "Email", "標籤", "負責人", "Lifecycle", "會員等級"])
        for i in range(offset, offset + rows):
            mobile = f"09{(i * 7919) % 100_000_000:08d}" if rng.random() > 0.01 else "12-34"
            landline = f"02-{2000_0000 + i % 8000_0000}" if i % 3 == 0 else ""
            writer.writerow(
                [
                    rng.choice(SURNAMES) + rng.choice(GIVEN),
                    mobile,
                    landline,
                    f"c{i}@example.com" if i % 2 else "",
                    ",".join(rng.sample(TAGS, rng.randint(0, 2))),
                    rng.choice(["bench-rep-1", "bench-rep-2", ""]),
                    rng.choice(STAGES),
                    rng.choice(["金", "銀", "銅"]),
                ]
            )


def existing_matches(count: int, offset: int) -> None:
    """Customers the file's rows will match by mobile number (update on match)."""
    from customers.models import ContactPoint, Customer
    from customers.normalise import phone_normalise

    customers = Customer.objects.bulk_create([Customer(name=f"Existing {i}") for i in range(count)])
    points = []
    for customer, i in zip(customers, range(offset, offset + count * 100, 100), strict=False):
        e164, _ext = phone_normalise(f"09{(i * 7919) % 100_000_000:08d}")
        points.append(
            ContactPoint(customer=customer, kind="phone", value=e164, normalised=e164, is_primary=True)
        )
    ContactPoint.objects.bulk_create(points)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> tuple[float, float]:
    """CPU time used so far by this process and by the PostgreSQL backend serving its connection.
    Unlike wall time it hardly depends on what else the machine is doing."""
    from django.db import connection

    times = os.times()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:  # the database runs elsewhere
        backend = float("nan")
    return times.user + times.system, backend


class PeakMemory:
    """Samples the resident set every 20 ms in a thread: the peak while the block ran."""

    def __enter__(self):
        self.start, self.peak, self._stop = rss_mb(), rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def import_once(rows: int, tmp: Path, admin, *, offset: int) -> dict:
    from django.core.files import File

    from customers.imports.files import count_data_rows, read_header
    from customers.imports.rows import clean_mapping, guess_mapping
    from customers.imports.runner import import_run
    from customers.models import DataJob

    path = tmp / f"bench-{rows}.csv"
    write_csv(path, rows, offset=offset)
    existing_matches(rows // 100, offset)
    header = read_header(path, "csv", "utf-8")
    job = DataJob(
        kind=DataJob.Kind.IMPORT,
        status=DataJob.Status.QUEUED,
        created_by=admin,
        file_name=path.name,
        fmt="csv",
        encoding="utf-8",
        mapping=clean_mapping(guess_mapping(header), header),
        on_match=DataJob.OnMatch.UPDATE,
        total_rows=count_data_rows(path, "csv", "utf-8"),
    )
    with open(path, "rb") as handle:
        job.file.save(path.name, File(handle), save=False)
    job.save()
    batch_times, last = [], [time.perf_counter()]

    def progress(_job):
        now = time.perf_counter()
        batch_times.append((now - last[0]) * 1000)
        last[0] = now

    cpu_before = cpu_seconds()
    with PeakMemory() as memory:
        started = time.perf_counter()
        job = import_run(job.pk, progress=progress)
        seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    return {
        "cpu_app": cpu_after[0] - cpu_before[0],
        "cpu_db": cpu_after[1] - cpu_before[1],
        "name": f"import {rows:,} rows",
        "rows": rows,
        "seconds": seconds,
        "batch_ms": batch_times[:-1] or batch_times,
        "rss_start": memory.start,
        "rss_peak": memory.peak,
        "detail": f"{job.status}: {job.created_count} created, {job.updated_count} updated, "
        f"{job.failed_count} failed",
    }


def export_once(admin) -> dict:
    from django.db import transaction

    from customers import exports
    from customers.models import Customer, DataJob

    with transaction.atomic():
        job = exports.export_start(
            user=admin, queryset=Customer.objects.all(), description="bench", fmt="csv"
        )
        transaction.on_commit(lambda: None)
    DataJob.objects.filter(pk=job.pk).update(status=DataJob.Status.QUEUED)
    cpu_before = cpu_seconds()
    with PeakMemory() as memory:
        started = time.perf_counter()
        job = exports.export_run(job.pk)
        seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    return {
        "cpu_app": cpu_after[0] - cpu_before[0],
        "cpu_db": cpu_after[1] - cpu_before[1],
        "name": f"export {job.processed_rows:,} rows (CSV)",
        "rows": job.processed_rows,
        "seconds": seconds,
        "batch_ms": [],
        "rss_start": memory.start,
        "rss_peak": memory.peak,
        "detail": job.status,
    }


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def run(
    *, rows: int = 100_000, baseline_rows: int = 10_000, database_url: str = DEFAULT_DATABASE_URL
) -> list[dict]:
    """Run the scenarios and return one dict per line of the table (rows, seconds, rows/s, RSS, batch times)."""
    setup(database_url)
    from django.conf import settings
    from django.test import override_settings

    empty_customers()
    admin = ensure_owners()[0]
    results = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        override_settings(MEDIA_ROOT=tmp, CELERY_TASK_ALWAYS_EAGER=False),
    ):
        tmp = Path(tmp)
        assert str(tmp) == settings.MEDIA_ROOT
        if baseline_rows:
            results.append(import_once(baseline_rows, tmp, admin, offset=50_000_000))
        results.append(import_once(rows, tmp, admin, offset=0))
        results.append(export_once(admin))
    for result in results:
        result["rows_per_s"] = result["rows"] / result["seconds"] if result["seconds"] else 0.0
    return results


def report(results: list[dict]) -> None:
    print()
    print(
        f"{'scenario':<30} {'seconds':>8} {'rows/s':>8} {'batch p50':>10} {'p95':>8} {'p99':>8} "
        f"{'CPU app':>8} {'CPU db':>7} {'RSS start':>10} {'RSS peak':>9}  result"
    )
    for r in results:
        batches = r["batch_ms"]
        print(
            f"{r['name']:<30} {r['seconds']:>8.1f} {r['rows_per_s']:>8.0f} "
            f"{(statistics.median(batches) if batches else 0):>8.0f}ms {percentile(batches, 95):>6.0f}ms "
            f"{percentile(batches, 99):>6.0f}ms {r['cpu_app']:>7.1f}s {r['cpu_db']:>6.1f}s "
            f"{r['rss_start']:>8.0f}MB {r['rss_peak']:>7.0f}MB  {r['detail']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=10_000, help="a smaller import first (0: none)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when the import takes over {TARGET_SECONDS:g} s"
    )
    args = parser.parse_args()
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = run(rows=args.rows, baseline_rows=args.baseline_rows, database_url=args.database_url)
    print(f"Load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(results)
    main_import = next(r for r in results if r["rows"] == args.rows and r["name"].startswith("import"))
    met = main_import["seconds"] <= TARGET_SECONDS
    print(
        "\nCPU app/db: CPU seconds used by this process and by its PostgreSQL backend; on a loaded "
        "machine wall time is mostly waiting for a core."
    )
    print(f"Target: {args.rows:,} rows imported in ≤ {TARGET_SECONDS:g} s: {'ok' if met else 'MISSED'}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
