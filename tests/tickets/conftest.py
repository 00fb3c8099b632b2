import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tickets.models import BusinessCalendar, EscalationRule, SlaPolicy

from .factories import SlaPolicyFactory

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


class Clock:
    """A frozen clock for code that asks django.utils.timezone.now(); moved by hand, never by sleeping."""

    def __init__(self):
        self.current = None

    def __call__(self):
        return self.current

    def set(self, moment: dt.datetime) -> dt.datetime:
        self.current = moment
        return moment

    def advance(self, **delta) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock()
    frozen.set(taipei(2026, 11, 23, 10, 0))
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def taiwan_calendar(db):
    """The calendar the data migration seeds: Monday to Friday 09:00-18:00, Taiwan's 2026 holidays."""
    return BusinessCalendar.objects.get(is_default=True)


@pytest.fixture
def policy(taiwan_calendar):
    """One policy for every ticket: first response in 2 business hours, resolution in one business day."""
    SlaPolicy.objects.update(active=False)
    EscalationRule.objects.all().delete()
    return SlaPolicyFactory(
        name="Standard", first_response_minutes=120, resolution_minutes=540, warning_minutes=30
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


from .mail_fixtures import imap_server, mailbox  # noqa: E402, F401 - fixtures of the e-mail tests
