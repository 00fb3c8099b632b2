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
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncMonth
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import Interaction

from .mail.outbound import customer_email, customer_language, sender_for
from .models import CsatSurvey, Ticket
from .selectors import tickets_visible_to
from .services.timeline import ticket_record

SALT = "tickets.csat"
RATINGS = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000


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


def _aggregates():
    return {
        "sent": Count("id"),
        "answered": Count("id", filter=Q(answered_at__isnull=False)),
        "average": Avg("rating"),
        **{f"r{n}": Count("id", filter=Q(rating=n)) for n in RATINGS},
    }


def _row(key, label, values) -> CsatRow:
    return CsatRow(
        key=key,
        label=label,
        sent=values["sent"],
        answered=values["answered"],
        average=values["average"],
        distribution=[values[f"r{n}"] for n in RATINGS],
    )


def _person(values) -> str:
    full = f"{values['agent__first_name'] or ''} {values['agent__last_name'] or ''}".strip()
    return full or values["agent__username"] or ""


def csat_report(*, user, since: dt.datetime, team_id: int | None = None) -> dict:
    """Totals, and rows per team, agent and month, of the surveys sent since `since` for the tickets
    the user may see. Four grouped queries whatever the number of surveys."""
    surveys = CsatSurvey.objects.filter(sent_at__gte=since, ticket__in=tickets_visible_to(user))
    if team_id:
        surveys = surveys.filter(team_id=team_id)
    total = _row(None, _("All"), surveys.aggregate(**_aggregates()))
    by_team = [
        _row(v["team_id"], v["team__name"] or _("No team"), v)
        for v in surveys.values("team_id", "team__name").annotate(**_aggregates()).order_by("team__name")
    ]
    by_agent = [
        _row(v["agent_id"], _person(v) or _("Unassigned"), v)
        for v in surveys.values("agent_id", "agent__username", "agent__first_name", "agent__last_name")
        .annotate(**_aggregates())
        .order_by("-answered", "agent__username")
    ]
    by_month = [
        _row(v["month"], v["month"].strftime("%Y-%m") if v["month"] else "—", v)
        for v in surveys.annotate(month=TruncMonth("sent_at"))
        .values("month")
        .annotate(**_aggregates())
        .order_by("-month")
    ]
    return {"total": total, "by_team": by_team, "by_agent": by_agent, "by_month": by_month}


def latest_answers(
    *, user, since: dt.datetime, team_id: int | None = None, limit: int = 20
) -> list[CsatSurvey]:
    surveys = CsatSurvey.objects.filter(
        sent_at__gte=since, answered_at__isnull=False, ticket__in=tickets_visible_to(user)
    )
    if team_id:
        surveys = surveys.filter(team_id=team_id)
    return list(surveys.select_related("ticket", "agent").order_by("-answered_at", "-id")[:limit])
