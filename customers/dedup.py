"""Finding customers that are probably one person: the duplicate scan and the review list.

The scan is a handful of set-based SQL statements, whatever the number of customers:

- same phone or e-mail: contact values held by more than one customer are found by grouping the
  contact points by normalised value (served by the (normalised, kind) index); only those few values
  are joined back to form pairs. A value shared by more than MAX_GROUP customers (a switchboard, a
  placeholder such as 0000) says nothing about identity and is skipped;
- same LINE/WeChat account: one provider user id on two customers;
- similar name in the same organisation: names are compared (pg_trgm similarity on PostgreSQL, equal
  upper-cased names on SQLite) only within an organisation's members, never across the table.

Every pair is scored from 0 to 1 (a shared contact plus how alike the names are) and upserted into
DuplicateCandidate, one row per pair with its strongest reason. A pair marked "not a duplicate" keeps
that status when found again; open pairs not found any more (a contact was corrected) are removed.
"""

from django.db import connection, transaction
from django.utils import timezone

from .models import ContactPoint, Customer, DuplicateCandidate, SocialIdentity
from .permissions import customers_visible_to

MAX_GROUP = 20  # customers sharing one phone/e-mail beyond which the value is not evidence
MAX_BLOCK = 200  # members of one organisation beyond which names are not compared
NAME_THRESHOLD = 0.5  # name similarity needed when only the organisation is shared
SCAN_WORK_MEM = "256MB"  # for the scan's transaction only (PostgreSQL)

# (base, weight of name similarity): score = base + weight * similarity(names)
SCORES = {
    DuplicateCandidate.Reason.SOCIAL: (0.85, 0.15),
    DuplicateCandidate.Reason.EMAIL: (0.7, 0.3),
    DuplicateCandidate.Reason.PHONE: (0.6, 0.4),
    DuplicateCandidate.Reason.NAME_ORGANISATION: (0.0, 0.8),
}


def _similarity(a: str, b: str) -> str:
    if connection.vendor == "postgresql":
        return f"similarity({a}, {b})"
    return f"(CASE WHEN UPPER({a}) = UPPER({b}) THEN 1.0 ELSE 0.0 END)"


def _score(reason: str, a: str = "ca.name", b: str = "cb.name") -> str:
    base, weight = SCORES[reason]
    return f"({base} + {weight} * {_similarity(a, b)})"


def _pairs_sql() -> str:
    customer = Customer._meta.db_table
    contact = ContactPoint._meta.db_table
    social = SocialIdentity._meta.db_table
    phone, email = ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL
    reason = DuplicateCandidate.Reason
    # Only table names and constants of this module are interpolated, never input.
    return f"""
    WITH shared_values AS (
        -- grouped in the order of the (normalised, kind) index, which can then be read without sorting
        SELECT normalised, kind FROM {contact}
        WHERE kind IN ('{phone}', '{email}') AND normalised <> ''
        GROUP BY normalised, kind
        HAVING COUNT(*) BETWEEN 2 AND {MAX_GROUP}
    ),
    holders AS (
        SELECT DISTINCT cp.kind, cp.normalised, cp.customer_id
        FROM {contact} cp JOIN shared_values sv ON sv.kind = cp.kind AND sv.normalised = cp.normalised
    ),
    shared_social AS (
        SELECT provider, external_id FROM {social}
        GROUP BY provider, external_id HAVING COUNT(DISTINCT customer_id) BETWEEN 2 AND {MAX_GROUP}
    ),
    social_holders AS (
        SELECT DISTINCT si.provider, si.external_id, si.customer_id
        FROM {social} si JOIN shared_social ss
            ON ss.provider = si.provider AND ss.external_id = si.external_id
    ),
    blocks AS (
        SELECT organisation_id FROM {customer}
        WHERE organisation_id IS NOT NULL AND merged_into_id IS NULL
        GROUP BY organisation_id HAVING COUNT(*) BETWEEN 2 AND {MAX_BLOCK}
    ),
    found AS (
        SELECT h1.customer_id AS a, h2.customer_id AS b,
            CASE WHEN h1.kind = '{phone}' THEN '{reason.PHONE}' ELSE '{reason.EMAIL}' END AS reason,
            CASE WHEN h1.kind = '{phone}' THEN {_score(reason.PHONE)} ELSE {_score(reason.EMAIL)} END
                AS score
        FROM holders h1
        JOIN holders h2 ON h2.kind = h1.kind AND h2.normalised = h1.normalised
            AND h1.customer_id < h2.customer_id
        JOIN {customer} ca ON ca.id = h1.customer_id
        JOIN {customer} cb ON cb.id = h2.customer_id
        WHERE ca.merged_into_id IS NULL AND cb.merged_into_id IS NULL
        UNION ALL
        SELECT s1.customer_id, s2.customer_id, '{reason.SOCIAL}', {_score(reason.SOCIAL)}
        FROM social_holders s1
        JOIN social_holders s2 ON s2.provider = s1.provider AND s2.external_id = s1.external_id
            AND s1.customer_id < s2.customer_id
        JOIN {customer} ca ON ca.id = s1.customer_id
        JOIN {customer} cb ON cb.id = s2.customer_id
        WHERE ca.merged_into_id IS NULL AND cb.merged_into_id IS NULL
        UNION ALL
        SELECT ca.id, cb.id, '{reason.NAME_ORGANISATION}', {_score(reason.NAME_ORGANISATION)}
        FROM blocks
        JOIN {customer} ca ON ca.organisation_id = blocks.organisation_id
        JOIN {customer} cb ON cb.organisation_id = blocks.organisation_id AND ca.id < cb.id
        WHERE ca.merged_into_id IS NULL AND cb.merged_into_id IS NULL
            AND {_similarity("ca.name", "cb.name")} >= {NAME_THRESHOLD}
    )
    """  # noqa: S608


def _best_per_pair_sql() -> str:
    if connection.vendor == "postgresql":
        return "SELECT DISTINCT ON (a, b) a, b, reason, score FROM found ORDER BY a, b, score DESC"
    # SQLite takes the other columns from the row holding the MAX().
    return "SELECT a, b, reason, MAX(score) AS score FROM found GROUP BY a, b"


def duplicates_scan() -> dict:
    """Find the candidate pairs among all customers; returns counts for the log and the page."""
    table = DuplicateCandidate._meta.db_table
    started = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Grouping a million contact values in memory beats spilling the sort to disk; JIT
            # compilation costs more than it saves on this one-off statement.
            cursor.execute(f"SET LOCAL work_mem = '{SCAN_WORK_MEM}'")
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"""
            {_pairs_sql()}
            INSERT INTO {table} (customer_a_id, customer_b_id, reason, score, status, found_at, seen_at)
            SELECT a, b, reason, ROUND(CAST(score AS numeric), 3), %s, %s, %s
            FROM ({_best_per_pair_sql()}) AS best WHERE 1 = 1
            ON CONFLICT (customer_a_id, customer_b_id) DO UPDATE
            SET reason = excluded.reason, score = excluded.score, seen_at = excluded.seen_at
            """,  # noqa: S608 - table names and constants only
            [DuplicateCandidate.Status.OPEN, started, started],
        )
        found = cursor.rowcount
        gone, _by_model = DuplicateCandidate.objects.filter(
            status=DuplicateCandidate.Status.OPEN, seen_at__lt=started
        ).delete()
    open_count = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN).count()
    return {"found": found, "removed": gone, "open": open_count}


def candidates_for_review(*, user, status: str = DuplicateCandidate.Status.OPEN):
    """Pairs whose two customers `user` may both see, strongest first."""
    visible = customers_visible_to(user)
    return (
        DuplicateCandidate.objects.filter(status=status)
        .filter(customer_a__in=visible, customer_b__in=visible)
        .select_related("customer_a", "customer_b", "resolved_by")
        .order_by("-score", "id")
    )


def candidate_mark_not_duplicate(*, actor, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """Remember that these two are different people: later scans leave the pair alone."""
    from django.core.exceptions import PermissionDenied
    from django.utils.translation import gettext as _

    if not actor.has_perm("customers.merge_customer"):
        raise PermissionDenied(_("You may not review duplicates."))
    candidate.status = DuplicateCandidate.Status.NOT_DUPLICATE
    candidate.resolved_by = actor
    candidate.resolved_at = timezone.now()
    candidate.save(update_fields=["status", "resolved_by", "resolved_at"])
    return candidate
