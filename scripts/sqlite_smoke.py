"""The embedded default must never crash: walk every page of the seeded demo on SQLite as every demo user.

Run by scripts/test after the PostgreSQL suite:  python scripts/sqlite_smoke.py
"""

import logging
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
workdir = tempfile.mkdtemp(prefix="crm-sqlite-smoke-")
os.environ.update(
    DJANGO_SETTINGS_MODULE="crm.settings",
    DATABASE_URL=f"sqlite:///{workdir}/smoke.sqlite3",
    REDIS_URL="",
    CTI_SHARED_SECRET="smoke",  # noqa: S106 - a throwaway secret for a throwaway database
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import URLPattern, URLResolver, get_resolver  # noqa: E402

from crm.models import User  # noqa: E402
from customers.models import ContactPoint, Customer  # noqa: E402

SKIP = ("django-admin/",)
QUERIES = [
    "",
    "?q=王",
    "?q=0912-345-678",
    "?q=%2B886912345678",
    "?q=VIP",
    "?q=chen",
    "?q=@example",
    "?page=2",
]


def routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name not in ("stream", "logout"):
            yield prefix + str(pattern.pattern)


def fill(route, values):
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values.get(m.group(1), "1")), route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), "1")), route)
    return "/" + re.sub(r"\.\?\??|\?", "", route)


def main():
    logging.disable(logging.CRITICAL)  # expected 403/404/405s would bury the summary
    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_sales_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_inbox_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_social_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    customer = Customer.objects.filter(contact_points__normalised="+886912345678").first()
    values = {"pk": customer.pk, "contact_pk": ContactPoint.objects.filter(customer=customer).first().pk}
    failures, requests = [], 0
    for username in ("admin", "manager", "rep", "agent"):
        client = Client()
        client.force_login(User.objects.get(username=username))
        for route in routes(get_resolver().url_patterns):
            if route.startswith(SKIP) or "format" in route:
                continue
            url = fill(route, values)
            for query in QUERIES if url in ("/customers/", "/api/v1/customers/") else [""]:
                response = client.get(url + query)
                requests += 1
                if response.status_code >= 500:
                    failures.append(f"{username}: GET {url}{query} -> {response.status_code}")
    print(f"SQLite smoke: {requests} pages as 4 demo users, {len(failures)} server errors")
    for failure in failures:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
