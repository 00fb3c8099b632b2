import io

import pytest
from django.core.management import call_command

from sales.models import Deal, Task

pytestmark = pytest.mark.django_db


def seed(command) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_sales_demo_adds_deals_and_follow_ups_once():
    seed("seed_demo")
    first = seed("seed_sales_demo")
    counts = (Deal.objects.count(), Task.objects.count())
    second = seed("seed_sales_demo")

    assert "Created" in first and "already there" in second
    assert (Deal.objects.count(), Task.objects.count()) == counts
    assert counts[0] >= 20 and Deal.objects.filter(status="open").exists()
    assert Task.objects.filter(assignee__username="rep", data__demo=True).count() == 8
    assert Deal.objects.values("stage").distinct().count() >= 4


def test_sales_demo_without_demo_users_says_what_to_do():
    assert "run `manage.py seed_demo` first" in seed("seed_sales_demo")
