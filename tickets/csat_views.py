"""The public satisfaction survey (no login: the signed link is the key) and the CSAT report."""

import datetime as dt

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from crm.models import Team

from . import csat
from .mail.outbound import customer_language
from .models import CsatSurvey
from .views import permission


def _public(response):
    # The token in the address is the key: keep it out of search engines and other sites' Referer
    # headers ("no-referrer" would make browsers send "Origin: null", which fails the CSRF check).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _rating(value) -> int | None:
    try:
        rating = int(value)
    except (TypeError, ValueError):
        return None
    return rating if rating in csat.RATINGS else None


@never_cache
@require_http_methods(["GET", "POST"])
def survey(request, token):
    """GET shows the question with the rating from the e-mail's link preselected; only POST records."""
    try:
        survey = csat.survey_from_token(token)
    except signing.SignatureExpired:
        return _public(render(request, "tickets/csat_expired.html", status=410))
    except (signing.BadSignature, CsatSurvey.DoesNotExist, ValueError):
        return _public(render(request, "tickets/csat_invalid.html", status=400))
    language = customer_language(survey.ticket.customer, translation.get_language())
    with translation.override(language):
        context = {
            "survey": survey,
            "ticket": survey.ticket,
            "ratings": csat.RATINGS,
            "rating": _rating(request.GET.get("rating")) or survey.rating,
            "comment": survey.comment,
            "expires_at": csat.expires_at(survey),
            "language": language,
            "errors": {},
        }
        status = 200
        if request.method == "POST":
            try:
                context["survey"] = csat.csat_answer(
                    survey=survey, rating=request.POST.get("rating"), comment=request.POST.get("comment", "")
                )
            except ValidationError as exc:
                context.update(
                    errors=exc.message_dict,
                    rating=_rating(request.POST.get("rating")),
                    comment=str(request.POST.get("comment", ""))[: csat.COMMENT_MAX],
                )
                status = 400
            else:
                return _public(render(request, "tickets/csat_thanks.html", context))
        return _public(render(request, "tickets/csat_survey.html", context, status=status))


MONTHS = (3, 6, 12, 24)


@permission("tickets.view_ticket")
def report(request):
    """Managers and admins (tickets.assign_ticket) see CSAT for the tickets they may see."""
    if not request.user.has_perm("tickets.assign_ticket"):
        raise PermissionDenied
    months = _rating_months(request.GET.get("months"))
    try:
        team_id = int(request.GET.get("team") or 0) or None
    except (TypeError, ValueError):
        team_id = None
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        team_id = None
    since = timezone.now() - dt.timedelta(days=31 * months)
    return render(
        request,
        "tickets/csat_report.html",
        {
            **csat.csat_report(user=request.user, since=since, team_id=team_id),
            "latest": csat.latest_answers(user=request.user, since=since, team_id=team_id),
            "months": months,
            "month_choices": MONTHS,
            "team_id": team_id,
            "teams": list(Team.objects.order_by("name").values_list("pk", "name")),
            "ratings": csat.RATINGS,
        },
    )


def _rating_months(value) -> int:
    try:
        months = int(value)
    except (TypeError, ValueError):
        return 6
    return months if months in MONTHS else 6
