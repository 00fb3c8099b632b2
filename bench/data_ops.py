"""The data-operations benchmark of issue 3: import speed, duplicate scan, segment count.

    .venv/bin/python bench/data_ops.py [--only import|dedup|segments]

Each part runs in its own process, because each works on its own PostgreSQL database and Django
binds to one database per process:

- bench/data_ops_import.py    import rows/s for 100,000 rows (target: under a minute, constant memory)
- bench/data_ops_dedup.py     the duplicate scan over 1,000,000 customers (a copy of crm_bench)
- bench/data_ops_segments.py  counting a 3-rule segment over 1,000,000 customers (target p95 ≤ 500 ms)

The two million-customer parts copy `crm_bench`, which bench/customers.py creates and seeds.
Each prints its own table; figures are recorded in docs/PERFORMANCE.md.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {
    "import": HERE / "data_ops_import.py",
    "dedup": HERE / "data_ops_dedup.py",
    "segments": HERE / "data_ops_segments.py",
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", choices=sorted(PARTS), action="append", help="run only this part (repeatable)"
    )
    args = parser.parse_args()
    failed = []
    for name, script in PARTS.items():
        if args.only and name not in args.only:
            continue
        print(f"\n==> {name}: {script.name}", flush=True)
        started = time.monotonic()
        status = subprocess.call([sys.executable, str(script)])  # noqa: S603 - our own scripts
        print(f"==> {name}: exit {status} after {time.monotonic() - started:,.0f} s", flush=True)
        if status:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
