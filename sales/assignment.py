"""Assignment rules: who owns a new lead or deal, and who takes over when a rep leaves.

The rules form an ordered list (AssignmentRule.position). For a new record the first enabled rule
whose condition matches (any / source / phone area) picks the owner with its strategy:

  * round robin within a team: the next active sales rep of the team after the one picked last;
  * least open deals within a team: the active sales rep of the team with the fewest open deals
    (ties: fewest leads, then the longest-standing user);
  * fixed user.

The rule row is locked (select_for_update) while it picks, so concurrent assignments through one rule
queue up: the round robin pointer never hands out the same rep twice, and the least-open count sees
the deal the previous assignment has just given. Every assignment writes an AssignmentLog row and a
timeline entry. When no rule matches, the caller's default owner stays.
"""

import itertools
import re
from dataclasses import dataclass

import phonenumbers
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumbers import geocoder

from crm import roles
from customers.models import ContactPoint, Customer, Interaction
from customers.services import record_interaction

from .models import AssignmentLog, AssignmentRule, Deal

User = get_user_model()
LEADS, DEALS = "leads", "deals"
BATCH = 500


@dataclass(frozen=True)
class Facts:
    """What a rule's condition looks at."""

    source: str = ""
    regions: tuple[str, ...] = ()


def phone_regions(e164: str) -> tuple[str, ...]:
    """The area of a phone number in English and Chinese ("Taipei", "台北", "臺北"); () for mobiles.

    A mobile number's "area" is its country, which says nothing about where the customer lives.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    names = []
    for lang, region in (("en", None), ("zh", None), ("zh", "TW")):
        name = geocoder.description_for_number(number, lang, region=region)
        if name and name != geocoder.country_name_for_number(number, lang) and name not in names:
            names.append(name)
    return tuple(names)


_PARTS = re.compile(r"\s*[,/、]\s*")


def _facts_for_customers(customers) -> dict[int, Facts]:
    ids = [c.pk for c in customers]
    phones = {}
    for customer_id, normalised in (
        ContactPoint.objects.filter(customer_id__in=ids, kind=ContactPoint.Kind.PHONE)
        .order_by("customer_id", "-is_primary", "id")
        .values_list("customer_id", "normalised")
    ):
        phones.setdefault(customer_id, normalised)
    return {
        c.pk: Facts(source=c.source or "", regions=phone_regions(phones[c.pk]) if c.pk in phones else ())
        for c in customers
    }


def _matches(rule: AssignmentRule, facts: Facts) -> bool:
    wanted = rule.value.strip().casefold()
    if rule.condition == AssignmentRule.Condition.ANY:
        return True
    if rule.condition == AssignmentRule.Condition.SOURCE:
        return bool(wanted) and facts.source.strip().casefold() == wanted
    if rule.condition == AssignmentRule.Condition.REGION:
        return bool(wanted) and any(
            wanted == region.casefold() or wanted in _PARTS.split(region.casefold())
            for region in facts.regions
        )
    return False


def _rules(kind: str) -> list[AssignmentRule]:
    applies = [AssignmentRule.AppliesTo.BOTH, kind]
    return list(
        AssignmentRule.objects.filter(enabled=True, applies_to__in=applies).order_by("position", "id")
    )


def _team_reps(team_id, exclude_ids=()):
    return (
        User.objects.filter(team_id=team_id, is_active=True, groups__name=roles.SALES_REP)
        .exclude(pk__in=list(exclude_ids))
        .order_by("pk")
    )


def _pick(rule: AssignmentRule, exclude_ids=()):
    """The user this rule gives the next record to, with the rule row locked; None when it has nobody."""
    rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    if rule.strategy == AssignmentRule.Strategy.FIXED:
        user = rule.user
        return user if user is not None and user.is_active and user.pk not in exclude_ids else None
    if rule.team_id is None:
        return None
    candidates = _team_reps(rule.team_id, exclude_ids)
    if rule.strategy == AssignmentRule.Strategy.ROUND_ROBIN:
        after = rule.last_assigned_id or 0
        user = candidates.filter(pk__gt=after).first() or candidates.first()
        if user is not None:
            AssignmentRule.objects.filter(pk=rule.pk).update(last_assigned=user)
        return user
    if rule.strategy == AssignmentRule.Strategy.LEAST_OPEN:
        # Two correlated counts, not two joins: joining a rep's deals and customers would multiply them.
        open_deals = (
            Deal.objects.filter(owner=OuterRef("pk"), status=Deal.Status.OPEN)
            .order_by()
            .values("owner")
            .annotate(n=Count("pk"))
            .values("n")
        )
        leads = (
            Customer.objects.filter(
                owner=OuterRef("pk"), lifecycle_stage=Customer.Lifecycle.LEAD, merged_into__isnull=True
            )
            .order_by()
            .values("owner")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            candidates.annotate(
                open_deals=Coalesce(Subquery(open_deals), 0), leads=Coalesce(Subquery(leads), 0)
            )
            .order_by("open_deals", "leads", "pk")
            .first()
        )
    return None


def _choose(kind: str, facts: Facts, exclude_ids=(), rules=None):
    for rule in rules if rules is not None else _rules(kind):
        if _matches(rule, facts):
            user = _pick(rule, exclude_ids)
            if user is not None:
                return rule, user
    return None, None


def _log(*, rule, user, customer=None, deal=None, previous=None, actor=None, reason=AssignmentLog.Reason.NEW):
    return AssignmentLog(
        customer=customer if customer is not None else (deal.customer if deal is not None else None),
        deal=deal,
        rule=rule,
        rule_name=rule.name if rule is not None else "",
        strategy=rule.strategy if rule is not None else "fallback",
        reason=reason,
        assigned_to=user,
        previous_owner=previous,
        actor=actor if actor is not None and actor.is_authenticated else None,
    )


def _summary(what: str, user, rule) -> str:
    if rule is None:
        return _("%(what)s assigned to %(user)s (previous owner deactivated)") % {"what": what, "user": user}
    return _("%(what)s assigned to %(user)s by rule “%(rule)s”") % {
        "what": what,
        "user": user,
        "rule": rule.name,
    }


@transaction.atomic
def assignment_apply(*, customer: Customer | None = None, deal: Deal | None = None, actor=None):
    """Give a new lead (customer) or deal an owner by the rules; the AssignmentLog row, or None.

    Called by the services that create customers and deals without an explicit owner. When no
    enabled rule matches, or the rule has nobody to give it to, the record keeps the owner it has.
    """
    if (customer is None) == (deal is None):
        raise ValueError("Pass either a customer or a deal.")
    target = customer if customer is not None else deal
    kind = LEADS if customer is not None else DEALS
    rules = _rules(kind)
    if not rules:
        return None
    subject_customer = customer if customer is not None else deal.customer
    facts = _facts_for_customers([subject_customer])[subject_customer.pk]
    if deal is not None and deal.source:
        facts = Facts(source=deal.source, regions=facts.regions)
    rule, user = _choose(kind, facts, rules=rules)
    if user is None:
        return None
    previous = target.owner
    changes = {"owner": user, "team": user.team}
    if deal is not None:
        Deal.objects.filter(pk=deal.pk).update(owner=user, team=user.team, version=F("version") + 1)
        deal.version += 1
    else:
        Customer.objects.filter(pk=customer.pk).update(**changes)
    target.owner, target.team = user, user.team
    log = _log(rule=rule, user=user, customer=customer, deal=deal, previous=previous, actor=actor)
    log.save()
    record_interaction(
        customer=subject_customer,
        kind=Interaction.Kind.SYSTEM if deal is None else Interaction.Kind.DEAL,
        summary=_summary(
            _("Lead") if deal is None else _("Deal “%(title)s”") % {"title": deal.title}, user, rule
        ),
        actor=actor,
        subject=target,
        data={"assignment": log.pk, "rule": rule.pk, "to": user.pk},
    )
    return log


class _Fallback:
    """Who takes over when no rule does: the departed rep's team mates in turn, else their manager, else the admin."""

    def __init__(self, user, actor):
        reps = list(_team_reps(user.team_id, [user.pk])) if user.team_id else []
        manager = user.team.manager if user.team_id else None
        if not reps and manager is not None and manager.is_active and manager.pk != user.pk:
            reps = [manager]
        if not reps and actor is not None and actor.pk != user.pk:
            reps = [actor]
        self._cycle = itertools.cycle(reps) if reps else None

    def next(self):
        return next(self._cycle) if self._cycle is not None else None


@transaction.atomic
def owner_reassign_on_deactivate(*, user, actor) -> dict[str, int]:
    """Hand a deactivated user's customers and open deals to others, by the rules, and log each move.

    A customer keeps going with its open deals: a deal of a customer reassigned here goes to the
    customer's new owner. What no rule takes goes to the user's team mates in turn, then to their
    team's manager, then to the admin doing the deactivation, so no customer is left without an owner.
    """
    fallback = _Fallback(user, actor)
    lead_rules, deal_rules = _rules(LEADS), _rules(DEALS)
    moved: dict[int, object] = {}
    now = timezone.now()
    counts = {"customers": 0, "deals": 0}
    while True:
        batch = list(Customer.objects.filter(owner=user).order_by("pk")[:BATCH])
        if not batch:
            break
        facts = _facts_for_customers(batch)
        logs, by_owner = [], {}
        for customer in batch:
            rule, new_owner = _choose(LEADS, facts[customer.pk], exclude_ids=[user.pk], rules=lead_rules)
            if new_owner is None:
                new_owner = fallback.next()
            if new_owner is None:
                raise RuntimeError("Nobody to take over the customers: pass an active actor.")
            by_owner.setdefault(new_owner, []).append(customer.pk)
            moved[customer.pk] = new_owner
            logs.append(
                _log(
                    rule=rule,
                    user=new_owner,
                    customer=customer,
                    previous=user,
                    actor=actor,
                    reason=AssignmentLog.Reason.DEACTIVATED,
                )
            )
            record_interaction(
                customer=customer,
                kind=Interaction.Kind.SYSTEM,
                summary=_summary(_("Customer"), new_owner, rule),
                actor=actor,
                subject=customer,
                occurred_at=now,
                data={"field": "owner", "from": user.pk, "to": new_owner.pk},
            )
        for new_owner, ids in by_owner.items():
            Customer.objects.filter(pk__in=ids).update(owner=new_owner, team=new_owner.team)
        AssignmentLog.objects.bulk_create(logs)
        counts["customers"] += len(batch)

    deals = Deal.objects.filter(owner=user, status=Deal.Status.OPEN).select_related("customer").order_by("pk")
    for deal in deals.iterator(chunk_size=BATCH):
        rule, new_owner = None, moved.get(deal.customer_id)
        if new_owner is None:
            facts = _facts_for_customers([deal.customer])[deal.customer_id]
            facts = Facts(source=deal.source or facts.source, regions=facts.regions)
            rule, new_owner = _choose(DEALS, facts, exclude_ids=[user.pk], rules=deal_rules)
        new_owner = new_owner or fallback.next()
        if new_owner is None:
            raise RuntimeError("Nobody to take over the deals: pass an active actor.")
        Deal.objects.filter(pk=deal.pk).update(owner=new_owner, team=new_owner.team, version=F("version") + 1)
        _log(
            rule=rule,
            user=new_owner,
            deal=deal,
            previous=user,
            actor=actor,
            reason=AssignmentLog.Reason.DEACTIVATED,
        ).save()
        record_interaction(
            customer=deal.customer,
            kind=Interaction.Kind.DEAL,
            summary=_summary(_("Deal “%(title)s”") % {"title": deal.title}, new_owner, rule),
            actor=actor,
            subject=deal,
            occurred_at=now,
            data={"deal": deal.pk, "field": "owner", "from": user.pk, "to": new_owner.pk},
        )
        counts["deals"] += 1
    return counts
