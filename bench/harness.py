"""What the page benchmarks share: scenarios, timing in turns, the table, query plans, the database.

Each benchmark builds its data and its list of Scenario (the first one is the bare "hello" view),
then calls run(), report() and, with --explain, explain().
"""

import argparse
import gc
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Scenario:
    name: str
    urls: list[str]
    client: object
    target: tuple[str, float] | None = None  # ("p95", 100.0)
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


def add_common_arguments(parser: argparse.ArgumentParser, *, database_url: str) -> None:
    parser.add_argument("--database-url", default=database_url)
    parser.add_argument(
        "--iterations", type=int, default=300, help="timed requests per scenario (default 300)"
    )
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest queries")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")


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


def only(scenarios: list[Scenario], text: str) -> list[Scenario]:
    """The baseline plus the scenarios whose name contains `text` (all of them when it is empty)."""
    return scenarios[:1] + [s for s in scenarios[1:] if text in s.name]


def run(scenarios: list[Scenario], args) -> None:
    """Warm every scenario up, then time them in turns, one request each per round, so that
    whatever else the machine is doing weighs on all of them alike."""
    for scenario in scenarios:
        for i in range(args.warmup):
            url = scenario.urls[i % len(scenario.urls)]
            response = scenario.client.get(url, **scenario.headers)
            if response.status_code not in (200, 302):
                raise SystemExit(f"{scenario.name}: {url} answered {response.status_code}")
    gc.collect()
    for i in range(args.iterations):
        for scenario in scenarios:
            url = scenario.urls[i % len(scenario.urls)]
            started = time.perf_counter()
            scenario.client.get(url, **scenario.headers)
            scenario.timings.append((time.perf_counter() - started) * 1000)


def report(scenarios: list[Scenario]) -> list[str]:
    """Print the table; return the names of the scenarios that missed their target."""
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
    return [s.name for s in scenarios if s.met is False]


def explain(scenarios: list[Scenario]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for scenario in scenarios[1:]:
        seen = set()
        for url in scenario.urls[:6]:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                scenario.client.get(url, **scenario.headers)
                elapsed = (time.perf_counter() - started) * 1000
            queries = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
            print(f"\n=== {scenario.name}: {url} — {len(queries)} queries, {elapsed:.1f} ms")
            for query in queries[:2]:
                statement = query["sql"]
                if not statement.lstrip().upper().startswith("SELECT") or statement in seen:
                    continue
                seen.add(statement)
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                print(f"--- {query['time']} s\n{statement}\n{plan}")
