"""Lead score: a 0–100 number from how complete a profile is and how engaged the customer has been.

Profile (at most 30 points): a phone number, an e-mail address, a followed LINE/WeChat account, an
organisation or a known source, tags. Engagement (at most 70): the customer's timeline of the last
90 days, each kind of touch worth its weight (an order most, a reply or a campaign response a good
deal, a note little; an unfollow takes points away), recent touches counting fully, older ones less
(1 within 7 days, ½ within 30, ⅕ within 90), each kind at most 25 points.

Scores are kept in reports.CustomerScore with their reasons and recomputed a little after each new
timeline entry (a Celery task enqueued on commit, one per customer per debounce window) and nightly
for all customers, so that old engagement fades.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import ContactPoint, Customer, Interaction, SocialIdentity

from .models import CustomerScore

logger = logging.getLogger(__name__)

PROFILE_POINTS = {"phone": 8, "email": 8, "social": 6, "organisation": 4, "tags": 4}
KIND_WEIGHTS = {
    Interaction.Kind.ORDER: 12,
    Interaction.Kind.POSTBACK: 6,
    Interaction.Kind.MESSAGE_IN: 5,
    Interaction.Kind.CALL: 4,
    Interaction.Kind.QUOTE: 4,
    Interaction.Kind.FOLLOW: 3,
    Interaction.Kind.DEAL: 2,
    Interaction.Kind.TICKET: 1,
    Interaction.Kind.NOTE: 1,
    Interaction.Kind.UNFOLLOW: -10,
}
# (newer than, factor): a touch of this week counts fully, one of last quarter a fifth.
DECAY = ((dt.timedelta(days=7), 1.0), (dt.timedelta(days=30), 0.5), (dt.timedelta(days=90), 0.2))
KIND_CAP = 25
ENGAGEMENT_CAP = 70
BATCH = 1000
DEBOUNCE_SECONDS = 30

PROFILE_LABELS = {
    "phone": _("Has a phone number"),
    "email": _("Has an e-mail address"),
    "social": _("Follows a LINE or WeChat account"),
    "organisation": _("Organisation or source known"),
    "tags": _("Tagged"),
}


def reasons_display(reasons) -> list[dict]:
    """The stored reasons as labels in the user's language, largest first."""
    kinds = dict(Interaction.Kind.choices)
    shown = []
    for reason in reasons or []:
        code = reason.get("code", "")
        if code.startswith("kind:"):
            label = _("%(kind)s × %(count)d (last 90 days)") % {
                "kind": kinds.get(code[5:], code[5:]),
                "count": reason.get("count", 0),
            }
        else:
            label = PROFILE_LABELS.get(code, code)
        shown.append({"label": label, "points": reason.get("points", 0)})
    return sorted(shown, key=lambda r: -abs(r["points"]))


def scores_compute(customer_ids, *, now=None) -> dict[int, tuple[int, list[dict]]]:
    """(score, reasons) for each customer id: four queries whatever the number of customers."""
    ids = list(customer_ids)
    now = now or timezone.now()
    contacts = {}
    for customer_id, kind in (
        ContactPoint.objects.filter(
            customer_id__in=ids, kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL]
        )
        .order_by()
        .values_list("customer_id", "kind")
        .distinct()
    ):
        contacts.setdefault(customer_id, set()).add(kind)
    following = set(
        SocialIdentity.objects.filter(customer_id__in=ids, followed=True)
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    profiles = {
        row["id"]: row
        for row in Customer.objects.filter(pk__in=ids)
        .annotate(tag_count=Count("tags"))
        .values("id", "organisation_id", "source", "tag_count")
    }
    buckets = {
        f"n{index}": Count("id", filter=Q(occurred_at__gte=now - age))
        for index, (age, _factor) in enumerate(DECAY)
    }
    engagement = {}
    for row in (
        Interaction.objects.filter(
            customer_id__in=ids, kind__in=list(KIND_WEIGHTS), occurred_at__gte=now - DECAY[-1][0]
        )
        .order_by()
        .values("customer_id", "kind")
        .annotate(**buckets)
    ):
        engagement.setdefault(row["customer_id"], []).append(row)

    results = {}
    for customer_id in ids:
        profile = profiles.get(customer_id)
        if profile is None:
            continue
        reasons, total = [], 0
        kinds = contacts.get(customer_id, set())
        present = {
            "phone": ContactPoint.Kind.PHONE in kinds,
            "email": ContactPoint.Kind.EMAIL in kinds,
            "social": customer_id in following,
            "organisation": bool(profile["organisation_id"] or profile["source"]),
            "tags": profile["tag_count"] > 0,
        }
        for code, points in PROFILE_POINTS.items():
            if present[code]:
                reasons.append({"code": code, "points": points})
                total += points
        engaged = 0
        for row in engagement.get(customer_id, []):
            # Counts per window are cumulative: split them into "this week", "this month", "this quarter".
            counts = [row[f"n{index}"] for index in range(len(DECAY))]
            weighted = 0.0
            previous = 0
            for count, (_age, factor) in zip(counts, DECAY, strict=True):
                weighted += (count - previous) * factor
                previous = count
            weight = KIND_WEIGHTS[row["kind"]]
            points = round(max(-KIND_CAP, min(KIND_CAP, weighted * weight)))
            if points:
                reasons.append({"code": f"kind:{row['kind']}", "count": counts[-1], "points": points})
                engaged += points
        total += max(-ENGAGEMENT_CAP, min(ENGAGEMENT_CAP, engaged))
        results[customer_id] = (max(0, min(100, total)), reasons)
    return results


def scores_recompute(customer_ids, *, now=None) -> int:
    """Compute and store the scores of these customers; how many were stored."""
    now = now or timezone.now()
    computed = scores_compute(customer_ids, now=now)
    rows = [
        CustomerScore(customer_id=customer_id, score=score, reasons=reasons, computed_at=now)
        for customer_id, (score, reasons) in computed.items()
    ]
    CustomerScore.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["score", "reasons", "computed_at"],
    )
    return len(rows)


def scores_recompute_all(*, now=None) -> int:
    """Every customer's score, in batches by id (nightly, so that old engagement fades)."""
    now = now or timezone.now()
    done, after = 0, 0
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=after, merged_into__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return done
        done += scores_recompute(ids, now=now)
        after = ids[-1]


def _pending_key(customer_id: int) -> str:
    return f"reports:score-pending:{settings.DATABASES['default']['NAME']}:{customer_id}"


def score_recompute_soon(customer_id: int) -> None:
    """Ask for the customer's score to be recomputed once the current transaction commits.

    Costs the caller nothing but an on_commit hook; after commit, one task per customer is enqueued per
    debounce window, however many timeline entries arrive in it.
    """
    transaction.on_commit(lambda: _enqueue(customer_id))


def _enqueue(customer_id: int) -> None:
    from . import tasks

    try:
        if cache.add(_pending_key(customer_id), 1, timeout=DEBOUNCE_SECONDS * 4):
            tasks.recompute_score.apply_async(args=[customer_id], countdown=DEBOUNCE_SECONDS)
    except Exception:  # noqa: BLE001 - the broker or cache being down must not break the write; nightly catches up
        logger.warning("Could not enqueue the score recompute of customer %s", customer_id, exc_info=True)


def score_recompute_now(customer_id: int) -> int:
    """The task's work: forget the pending mark first, so entries arriving meanwhile enqueue again."""
    cache.delete(_pending_key(customer_id))
    return scores_recompute([customer_id])
