"""Satisfaction surveys: sent when a ticket is solved, answered through a signed, expiring link without
logging in, reported per team, agent and month.

The link is `signing.dumps({"n": nonce}, salt=SALT)`: tampering gives BadSignature, an old link
SignatureExpired (TICKETS_CSAT_MAX_AGE_DAYS). The rating in the e-mail's links is only preselected on the
page; only the page's POST records it, so mail scanners that follow links change nothing.

A survey may be answered again while its link is valid: the new answer replaces the old one (the
customer changed their mind), and the timeline shows both.

Channels: `register_channel()` adds a way to deliver the survey (the social inbox adds LINE for customers
who follow the channel). They are tried in order; the first that delivers is recorded on the survey.
"""

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks, signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Team
from customers.models import Interaction

from .mail.outbound import customer_email, customer_language, sender_for
from .models import CsatSurvey, Ticket
from .selectors import tickets_visible_to
from .services.timeline import ticket_record

SALT = "tickets.csat"
RATINGS = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000


@checks.register(checks.Tags.urls, deploy=True)
def check_site_url(app_configs=None, **kwargs):
    """Survey links in e-mails are useless without the site's address (`manage.py check --deploy`)."""
    if settings.TICKETS_CSAT_ENABLED and not settings.TICKETS_SITE_URL:
        return [
            checks.Warning(
                "TICKETS_SITE_URL is not set: satisfaction survey e-mails will carry relative links.",
                hint="Set TICKETS_SITE_URL to the address customers reach, e.g. https://crm.example.com",
                id="tickets.W001",
            )
        ]
    return []


def max_age() -> dt.timedelta:
    return dt.timedelta(days=settings.TICKETS_CSAT_MAX_AGE_DAYS)


# Links --------------------------------------------------------------------------------------------


def survey_token(survey: CsatSurvey) -> str:
    return signing.dumps({"n": survey.nonce}, salt=SALT)


def survey_from_token(token: str) -> CsatSurvey:
    """The survey, or signing.SignatureExpired / signing.BadSignature / CsatSurvey.DoesNotExist."""
    data = signing.loads(token, salt=SALT, max_age=max_age())
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        raise signing.BadSignature("not a survey token")
    return CsatSurvey.objects.select_related("ticket__customer").get(nonce=data["n"])


def survey_url(survey: CsatSurvey, rating: int | None = None) -> str:
    url = settings.TICKETS_SITE_URL.rstrip("/") + reverse("tickets:csat", args=[survey_token(survey)])
    return f"{url}?rating={rating}" if rating else url


def expires_at(survey: CsatSurvey) -> dt.datetime:
    return survey.sent_at + max_age()


# Channels -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsatChannel:
    name: str  # one of CsatSurvey.Channel
    send: Callable[[CsatSurvey], bool]  # delivers the survey, or False when it cannot reach the customer
    order: int = 100


csat_channels: list[CsatChannel] = []


def register_channel(channel: CsatChannel) -> None:
    csat_channels[:] = sorted(
        [c for c in csat_channels if c.name != channel.name] + [channel], key=lambda c: c.order
    )


def send_by_email(survey: CsatSurvey) -> bool:
    ticket = survey.ticket
    to = customer_email(ticket)
    if not to:
        return False
    _mailbox, from_email = sender_for(ticket)
    with translation.override(customer_language(ticket.customer, settings.LANGUAGE_CODE)):
        context = {
            "ticket": ticket,
            "customer": ticket.customer,
            "links": [(rating, survey_url(survey, rating)) for rating in RATINGS],
            "url": survey_url(survey),
            "days": settings.TICKETS_CSAT_MAX_AGE_DAYS,
        }
        subject = render_to_string("tickets/email/csat_subject.txt", context).strip()
        text = render_to_string("tickets/email/csat.txt", context)
        markup = render_to_string("tickets/email/csat.html", context)
    message = EmailMultiAlternatives(subject, text, from_email, [to])
    message.attach_alternative(markup, "text/html")
    message.send()
    return True


register_channel(CsatChannel(CsatSurvey.Channel.EMAIL, send_by_email, order=100))


# Sending -------------------------------------------------------------------------------------------


def csat_queue(ticket: Ticket) -> None:
    """After the ticket's move to solved commits, send its survey (tasks.csat_send)."""
    if not settings.TICKETS_CSAT_ENABLED or ticket.merged_into_id is not None:
        return
    from .tasks import csat_send_task

    solved_at = ticket.solved_at.isoformat() if ticket.solved_at else ""
    transaction.on_commit(lambda: csat_send_task.delay(ticket_id=ticket.pk, solved_at=solved_at))


def csat_send(*, ticket_id: int, solved_at: str = "", now: dt.datetime | None = None) -> CsatSurvey | None:
    """Send the survey of a solve: once per solve, and not if the ticket was reopened meanwhile."""
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or ticket.status != Ticket.Status.SOLVED or ticket.solved_at is None:
        return None
    if solved_at and ticket.solved_at.isoformat() != solved_at:
        return None
    if CsatSurvey.objects.filter(ticket=ticket, sent_at__gte=ticket.solved_at).exists():
        return None
    survey = CsatSurvey(
        ticket=ticket,
        nonce=secrets.token_urlsafe(18),
        agent_id=ticket.assignee_id,
        team_id=ticket.team_id,
        sent_at=now or timezone.now(),
    )
    for channel in csat_channels:
        if channel.send(survey):
            survey.channel = channel.name
            survey.save()
            return survey
    return None


# Answering -----------------------------------------------------------------------------------------


@transaction.atomic
def csat_answer(
    *, survey: CsatSurvey, rating, comment: str = "", now: dt.datetime | None = None
) -> CsatSurvey:
    """Record (or replace) the customer's answer. The caller has checked the signed link."""
    now = now or timezone.now()
    errors = {}
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if rating not in RATINGS:
        errors["rating"] = [_("Choose a rating from 1 to 5.")]
    comment = str(comment or "").replace("\x00", "").strip()
    if len(comment) > COMMENT_MAX:
        errors["comment"] = [_("At most %(limit)d characters.") % {"limit": COMMENT_MAX}]
    if now > expires_at(survey):
        errors["rating"] = [_("This survey has expired.")]
    if errors:
        raise ValidationError(errors)
    survey = CsatSurvey.objects.select_for_update().select_related("ticket").get(pk=survey.pk)
    again = survey.answered_at is not None
    survey.rating, survey.comment, survey.answered_at = rating, comment, now
    survey.save(update_fields=["rating", "comment", "answered_at"])
    ticket = survey.ticket
    summary = _("Rated ticket #%(number)s: %(rating)d of 5") % {"number": ticket.number, "rating": rating}
    if again:
        summary = _("Changed the rating of ticket #%(number)s: %(rating)d of 5") % {
            "number": ticket.number,
            "rating": rating,
        }
    ticket_record(
        ticket,
        actor=None,
        summary=summary + (f" · {comment[:200]}" if comment else ""),
        event="csat",
        channel=Interaction.Channel.LINE
        if survey.channel == CsatSurvey.Channel.LINE
        else Interaction.Channel.EMAIL,
        rating=rating,
        survey=survey.pk,
    )
    return survey


# Report --------------------------------------------------------------------------------------------


@dataclass
class CsatRow:
    key: object
    label: str
    sent: int
    answered: int
    average: float | None
    distribution: list[int]  # how many answers rated 1 … 5

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def satisfied_share(self) -> float | None:
        """The CSAT score as usually quoted: answers of 4 or 5 among all answers."""
        return (self.distribution[3] + self.distribution[4]) / self.answered if self.answered else None


def _visible(surveys, user):
    """Only the surveys of tickets the user may see; no condition at all for who sees every ticket."""
    visible = tickets_visible_to(user)
    if not visible.query.where:
        return surveys
    # Per survey row, an index lookup of its ticket: cheaper than hashing every visible ticket.
    return surveys.filter(Exists(visible.filter(pk=OuterRef("ticket_id"))))


def _surveys(*, user, since: dt.datetime, team_id: int | None):
    surveys = CsatSurvey.objects.filter(sent_at__gte=since)
    if team_id:
        surveys = surveys.filter(team_id=team_id)
    return _visible(surveys, user)


class _Sum:
    def __init__(self, key, label):
        self.key, self.label, self.sent, self.answered = key, label, 0, 0
        self.counts = [0] * len(RATINGS)

    def add(self, values):
        self.sent += values["sent"]
        self.answered += values["answered"]
        for n in RATINGS:
            self.counts[n - 1] += values[f"r{n}"]

    def row(self) -> CsatRow:
        rated = sum(self.counts)
        average = sum(n * c for n, c in zip(RATINGS, self.counts, strict=True)) / rated if rated else None
        return CsatRow(self.key, self.label, self.sent, self.answered, average, list(self.counts))


def csat_report(*, user, since: dt.datetime, team_id: int | None = None) -> dict:
    """Totals, and rows per team, agent and month, of the surveys sent since `since` for the tickets
    the user may see: one grouped query (team × agent × month) folded here, and the names."""
    # Grouped by ids only (cheap to sort); the few names are looked up after.
    groups = list(
        _surveys(user=user, since=since, team_id=team_id)
        .annotate(month=TruncMonth("sent_at"))
        .values("team_id", "agent_id", "month")
        .annotate(
            sent=Count("id"),
            answered=Count("id", filter=Q(answered_at__isnull=False)),
            **{f"r{n}": Count("id", filter=Q(rating=n)) for n in RATINGS},
        )
        .order_by()
    )
    team_names = dict(
        Team.objects.filter(pk__in={v["team_id"] for v in groups} - {None}).values_list("pk", "name")
    )
    people = {
        user.pk: user.get_full_name() or user.username
        for user in get_user_model()
        .objects.filter(pk__in={v["agent_id"] for v in groups} - {None})
        .only("username", "first_name", "last_name")
    }
    total = _Sum(None, _("All"))
    teams: dict = {}
    agents: dict = {}
    months: dict = {}
    for values in groups:
        total.add(values)
        for bucket, key, label in (
            (teams, values["team_id"], team_names.get(values["team_id"]) or _("No team")),
            (agents, values["agent_id"], people.get(values["agent_id"]) or _("Unassigned")),
            (months, values["month"], values["month"].strftime("%Y-%m") if values["month"] else "—"),
        ):
            bucket.setdefault(key, _Sum(key, label)).add(values)
    return {
        "total": total.row(),
        "by_team": sorted((s.row() for s in teams.values()), key=lambda r: str(r.label)),
        "by_agent": sorted((s.row() for s in agents.values()), key=lambda r: (-r.answered, str(r.label))),
        "by_month": sorted(
            (s.row() for s in months.values()), key=lambda r: r.key or dt.datetime.min, reverse=True
        ),
    }


def latest_answers(
    *, user, since: dt.datetime, team_id: int | None = None, limit: int = 20
) -> list[CsatSurvey]:
    surveys = _surveys(user=user, since=since, team_id=team_id).filter(answered_at__isnull=False)
    return list(surveys.select_related("ticket", "agent").order_by("-answered_at", "-id")[:limit])
