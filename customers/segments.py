"""Dynamic segment rules: their schema, validation, and compilation to one SQL query.

A segment's rules are a group::

    {"match": "all" | "any", "rules": [rule or group, ...]}

and a rule is ``{"field": ..., "op": ..., "value": ...}``. FIELDS lists each field's operators and
the kind of value each operator takes. `validate_rules()` checks and normalises what a browser or an
API sent; `compile_rules()` turns validated rules into one `Q` over Customer. Conditions on related
rows (tags, identities, consents, interactions) are EXISTS or scalar subqueries correlated on the
customer, never joins, so a customer with many interactions is still counted once and a count is a
single query whatever the nesting.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, TextField
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, IContains
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Consent, Customer, Interaction, SocialIdentity

MAX_DEPTH = 3
MAX_RULES = 50
MAX_DAYS = 36500
ATTRIBUTE_KEY = re.compile(r"^[\w.\- ]{1,64}$")

# Value kinds: what an operator's value looks like (the rule builder draws one widget per kind).
NONE = "none"  # no value
IDS = "ids"  # a non-empty list of ids from the field's choices
CHOICES = "choices"  # a non-empty list of values from the field's choices
CHOICE = "choice"  # one value from the field's choices
TEXT = "text"  # a string
DATE = "date"  # an ISO date, compared from the start of that day in the current time zone
DAYS = "days"  # a whole number of days
IDENTITY = "identity"  # {"provider": one of SocialIdentity.Provider, "channel": optional text}
COUNT = "count"  # {"kind": Interaction.Kind or "", "count": int, "days": optional int}
ATTRIBUTE = "attribute"  # {"key": attribute name, "value": text, unused by exists/not_exists}


@dataclass(frozen=True)
class Field:
    label: str
    operators: dict  # op -> (label, value kind)
    choices: str = ""  # which list of choices the builder offers: tags, users, teams, ...


FIELDS = {
    "tags": Field(
        gettext_lazy("Tags"),
        {
            "any_of": (gettext_lazy("has any of"), IDS),
            "all_of": (gettext_lazy("has all of"), IDS),
            "none_of": (gettext_lazy("has none of"), IDS),
        },
        "tags",
    ),
    "lifecycle": Field(
        gettext_lazy("Lifecycle stage"),
        {"in": (gettext_lazy("is one of"), CHOICES), "not_in": (gettext_lazy("is none of"), CHOICES)},
        "lifecycle",
    ),
    "owner": Field(
        gettext_lazy("Owner"),
        {
            "in": (gettext_lazy("is one of"), IDS),
            "not_in": (gettext_lazy("is none of"), IDS),
            "empty": (gettext_lazy("is nobody"), NONE),
            "not_empty": (gettext_lazy("is somebody"), NONE),
        },
        "users",
    ),
    "team": Field(
        gettext_lazy("Team"),
        {
            "in": (gettext_lazy("is one of"), IDS),
            "not_in": (gettext_lazy("is none of"), IDS),
            "empty": (gettext_lazy("is no team"), NONE),
            "not_empty": (gettext_lazy("is any team"), NONE),
        },
        "teams",
    ),
    "source": Field(
        gettext_lazy("Source"),
        {
            "is": (gettext_lazy("is"), TEXT),
            "is_not": (gettext_lazy("is not"), TEXT),
            "contains": (gettext_lazy("contains"), TEXT),
            "empty": (gettext_lazy("is empty"), NONE),
            "not_empty": (gettext_lazy("is not empty"), NONE),
        },
    ),
    "channel_followed": Field(
        gettext_lazy("Social channel"),
        {
            "follows": (gettext_lazy("follows"), IDENTITY),
            "not_follows": (gettext_lazy("does not follow"), IDENTITY),
        },
        "providers",
    ),
    "consent": Field(
        gettext_lazy("Consent"),
        {
            "granted": (gettext_lazy("currently granted for"), CHOICE),
            "not_granted": (gettext_lazy("not granted for"), CHOICE),
        },
        "purposes",
    ),
    "last_interaction": Field(
        gettext_lazy("Last interaction"),
        {
            "before": (gettext_lazy("before"), DATE),
            "after": (gettext_lazy("on or after"), DATE),
            "within_days": (gettext_lazy("within the last"), DAYS),
            "not_within_days": (gettext_lazy("not within the last"), DAYS),
            "never": (gettext_lazy("never"), NONE),
        },
    ),
    "interaction_count": Field(
        gettext_lazy("Number of interactions"),
        {
            "at_least": (gettext_lazy("at least"), COUNT),
            "at_most": (gettext_lazy("at most"), COUNT),
            "exactly": (gettext_lazy("exactly"), COUNT),
        },
        "interaction_kinds",
    ),
    "attribute": Field(
        gettext_lazy("Custom attribute"),
        {
            "equals": (gettext_lazy("equals"), ATTRIBUTE),
            "not_equals": (gettext_lazy("does not equal"), ATTRIBUTE),
            "contains": (gettext_lazy("contains"), ATTRIBUTE),
            "exists": (gettext_lazy("is set"), ATTRIBUTE),
            "not_exists": (gettext_lazy("is not set"), ATTRIBUTE),
        },
    ),
    "created": Field(
        gettext_lazy("Created"),
        {"before": (gettext_lazy("before"), DATE), "after": (gettext_lazy("on or after"), DATE)},
    ),
}

EMPTY_RULES = {"match": "all", "rules": []}


# --- validation -------------------------------------------------------------------------------------


def validate_rules(rules) -> dict:
    """The rules, checked and normalised; raises ValidationError saying what is wrong."""
    if rules in (None, "", {}):
        return dict(EMPTY_RULES)
    counter = [0]
    return _validate_group(rules, depth=1, counter=counter)


def _validate_group(group, *, depth, counter) -> dict:
    if not isinstance(group, dict) or not isinstance(group.get("rules", []), list):
        raise ValidationError(_("The rules are not in the expected shape."))
    if depth > MAX_DEPTH:
        raise ValidationError(_("Groups may be nested at most %(depth)d deep.") % {"depth": MAX_DEPTH})
    match = group.get("match", "all")
    if match not in ("all", "any"):
        raise ValidationError(_("A group matches “all” or “any” of its conditions."))
    children = []
    for child in group.get("rules", []):
        if isinstance(child, dict) and "rules" in child:
            nested = _validate_group(child, depth=depth + 1, counter=counter)
            if nested["rules"]:  # an empty group says nothing; dropping it keeps OR honest
                children.append(nested)
        else:
            counter[0] += 1
            if counter[0] > MAX_RULES:
                raise ValidationError(
                    _("A segment may have at most %(count)d conditions.") % {"count": MAX_RULES}
                )
            children.append(_validate_rule(child))
    return {"match": match, "rules": children}


def _validate_rule(rule) -> dict:
    if not isinstance(rule, dict):
        raise ValidationError(_("The rules are not in the expected shape."))
    field = FIELDS.get(rule.get("field"))
    if field is None:
        raise ValidationError(_("Choose what each condition looks at."))
    op = rule.get("op")
    if op not in field.operators:
        raise ValidationError(_("Choose a comparison for “%(field)s”.") % {"field": field.label})
    kind = field.operators[op][1]
    value = _validate_value(kind, rule.get("value"), field=field, op=op)
    return {"field": rule["field"], "op": op, "value": value}


def _whole_number(raw, *, low, high, message):
    try:
        number = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValidationError(message) from None
    if not low <= number <= high:
        raise ValidationError(message)
    return number


def _validate_value(kind, value, *, field, op):  # noqa: C901 - one branch per value kind
    label = {"field": field.label}
    if kind == NONE:
        return None
    if kind == IDS:
        values = value if isinstance(value, list) else [value]
        try:
            ids = sorted({int(v) for v in values if str(v).strip()})
        except (TypeError, ValueError):
            raise ValidationError(_("“%(field)s”: choose from the list.") % label) from None
        if not ids or any(i <= 0 or i > 2**62 for i in ids):
            raise ValidationError(_("“%(field)s”: choose at least one.") % label)
        return ids
    if kind in (CHOICES, CHOICE):
        allowed = {value for value, _label in choices_for(field.choices)}
        values = value if isinstance(value, list) else [value]
        values = [v for v in values if v not in (None, "")]
        if not values or any(v not in allowed for v in values):
            raise ValidationError(_("“%(field)s”: choose from the list.") % label)
        return values[0] if kind == CHOICE else sorted(set(values))
    if kind == TEXT:
        text = str(value if value is not None else "").strip()
        if not text or len(text) > 200:
            raise ValidationError(_("“%(field)s”: enter a value (up to 200 characters).") % label)
        return text
    if kind == DATE:
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError(_("“%(field)s”: enter a date as YYYY-MM-DD.") % label) from None
    if kind == DAYS:
        return _whole_number(
            value, low=1, high=MAX_DAYS, message=_("“%(field)s”: enter a number of days from 1.") % label
        )
    if not isinstance(value, dict):
        raise ValidationError(_("“%(field)s”: fill in the condition.") % label)
    if kind == IDENTITY:
        if value.get("provider") not in SocialIdentity.Provider.values:
            raise ValidationError(_("“%(field)s”: choose LINE, WeChat or WeCom.") % label)
        channel = str(value.get("channel") or "").strip()[:100]
        return {"provider": value["provider"], "channel": channel}
    if kind == COUNT:
        interaction_kind = value.get("kind") or ""
        if interaction_kind and interaction_kind not in Interaction.Kind.values:
            raise ValidationError(_("“%(field)s”: choose a kind of interaction.") % label)
        count = _whole_number(
            value.get("count"),
            low=0,
            high=1_000_000,
            message=_("“%(field)s”: enter a number from 0.") % label,
        )
        days = value.get("days")
        if days in (None, ""):
            days = None
        else:
            days = _whole_number(
                days, low=1, high=MAX_DAYS, message=_("“%(field)s”: enter a number of days from 1.") % label
            )
        return {"kind": interaction_kind, "count": count, "days": days}
    if kind == ATTRIBUTE:
        key = str(value.get("key") or "").strip()
        if not ATTRIBUTE_KEY.match(key):
            raise ValidationError(
                _("“%(field)s”: enter the attribute's name (letters, digits, _ . -).") % label
            )
        text = str(value.get("value") if value.get("value") is not None else "").strip()[:200]
        if op in ("equals", "not_equals", "contains") and not text:
            raise ValidationError(_("“%(field)s”: enter the value to compare with.") % label)
        return {"key": key, "value": text}
    raise ValidationError(_("The rules are not in the expected shape."))


def choices_for(name: str) -> list[tuple[str, str]]:
    """Fixed choice lists (tags, users and teams come from the database, see the builder view)."""
    if name == "lifecycle":
        return list(Customer.Lifecycle.choices)
    if name == "providers":
        return list(SocialIdentity.Provider.choices)
    if name == "purposes":
        return list(Consent.Purpose.choices)
    if name == "interaction_kinds":
        return list(Interaction.Kind.choices)
    return []


# --- compilation ------------------------------------------------------------------------------------


def compile_rules(rules: dict, *, now: dt.datetime | None = None) -> Q:
    """One Q over Customer for validated rules. `now` anchors "within the last N days"."""
    return _compile_group(rules, now=now or timezone.now())


def _compile_group(group, *, now) -> Q:
    parts = [
        _compile_group(child, now=now) if "rules" in child else _compile_rule(child, now=now)
        for child in group["rules"]
    ]
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if group["match"] == "all" else combined | part
    return combined


def _day_start(iso_date: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(iso_date), dt.time.min))


def _of_customer(model):
    return model.objects.filter(customer_id=OuterRef("pk")).order_by()


def _compile_rule(rule, *, now) -> Q:  # noqa: C901 - one branch per field
    field, op, value = rule["field"], rule["op"], rule["value"]
    if field == "tags":
        tagged = Customer.tags.through.objects.filter(customer_id=OuterRef("pk"))
        if op == "all_of":
            return Q(*[Exists(tagged.filter(tag_id=tag_id)) for tag_id in value])
        any_of = Q(Exists(tagged.filter(tag_id__in=value)))
        return any_of if op == "any_of" else ~any_of
    if field == "lifecycle":
        condition = Q(lifecycle_stage__in=value)
        return condition if op == "in" else ~condition
    if field in ("owner", "team"):
        column = f"{field}_id"
        if op in ("empty", "not_empty"):
            return Q(**{f"{column}__isnull": op == "empty"})
        condition = Q(**{f"{column}__in": value})
        return condition if op == "in" else ~condition
    if field == "source":
        if op in ("empty", "not_empty"):
            condition = Q(source="")
            return condition if op == "empty" else ~condition
        if op == "contains":
            return Q(source__icontains=value)
        condition = Q(source__iexact=value)
        return condition if op == "is" else ~condition
    if field == "channel_followed":
        identities = _of_customer(SocialIdentity).filter(provider=value["provider"], followed=True)
        if value["channel"]:
            identities = identities.filter(channel=value["channel"])
        condition = Q(Exists(identities))
        return condition if op == "follows" else ~condition
    if field == "consent":
        # The newest row for the purpose is the customer's current choice: granted then withdrawn is out.
        # Written as "a grant with no later row" (EXISTS / NOT EXISTS) rather than a scalar "newest row"
        # subquery, so that PostgreSQL can hash the consent table once instead of sorting it per customer.
        later = Consent.objects.filter(customer_id=OuterRef("customer_id"), purpose=value).filter(
            Q(occurred_at__gt=OuterRef("occurred_at"))
            | Q(occurred_at=OuterRef("occurred_at"), id__gt=OuterRef("id"))
        )
        current_grant = _of_customer(Consent).filter(purpose=value, granted=True).filter(~Exists(later))
        granted = Q(Exists(current_grant))
        return granted if op == "granted" else ~granted
    if field == "last_interaction":
        # Customer.last_interaction_at is the newest occurred_at of the timeline (kept by its writers),
        # so these read one indexed column rather than probing the timeline per customer.
        if op == "never":
            return Q(last_interaction_at__isnull=True)
        if op == "before":
            return Q(last_interaction_at__lt=_day_start(value))
        since = _day_start(value) if op == "after" else now - dt.timedelta(days=value)
        if op == "not_within_days":
            return Q(last_interaction_at__lt=since) | Q(last_interaction_at__isnull=True)
        return Q(last_interaction_at__gte=since)
    if field == "interaction_count":
        interactions = _of_customer(Interaction)
        if value["kind"]:
            interactions = interactions.filter(kind=value["kind"])
        if value["days"]:
            interactions = interactions.filter(occurred_at__gte=now - dt.timedelta(days=value["days"]))
        count = value["count"]

        def at_least(n):
            # EXISTS (... OFFSET n-1 LIMIT 1): stops after n rows, however long the customer's history.
            return Q() if n <= 0 else Q(Exists(interactions.values("pk")[n - 1 : n]))

        if op == "at_least":
            return at_least(count)
        if op == "at_most":
            return ~at_least(count + 1)
        return at_least(count) & ~at_least(count + 1) if count else ~at_least(1)
    if field == "attribute":
        present = Q(HasKey(F("custom_attributes"), value["key"]))
        if op == "exists":
            return present
        if op == "not_exists":
            return ~present
        # Cast: SQLite hands a JSON number back as a number, which never equals the text "3".
        text = Cast(KeyTextTransform(value["key"], "custom_attributes"), TextField())
        if op == "contains":
            return Q(IContains(text, value["value"]))
        equal = Q(Exact(text, value["value"]))
        return equal if op == "equals" else ~present | (present & ~equal)
    if field == "created":
        since = _day_start(value)
        return Q(created_at__lt=since) if op == "before" else Q(created_at__gte=since)
    raise ValueError(f"unknown field {field}")


def rules_queryset(rules: dict, *, now: dt.datetime | None = None):
    """All customers matching validated rules (callers restrict it to what a user may see). Records merged
    into another one are left out: their rows moved to the kept record, which is counted instead."""
    return Customer.objects.filter(compile_rules(rules, now=now), merged_into__isnull=True)


def describe_rule(rule: dict, names: dict | None = None) -> str:
    """A short human sentence for one validated rule. `names` maps a choice list's name to
    {value: label} so ids read as tag, user and team names."""
    field = FIELDS[rule["field"]]
    labels = (names or {}).get(field.choices) or dict(choices_for(field.choices))
    op_label = field.operators[rule["op"]][0]
    value = rule["value"]
    if isinstance(value, list):
        value = ", ".join(str(labels.get(v, labels.get(str(v), v))) for v in value)
    elif isinstance(value, dict):
        parts = [
            labels.get(v, v) if k in ("provider", "kind") else v for k, v in value.items() if k != "days"
        ]
        if value.get("days"):
            parts.append(_("in the last %(days)d days") % {"days": value["days"]})
        value = " ".join(str(part) for part in parts if part not in (None, ""))
    elif field.choices:
        value = labels.get(value, value)
    elif field.operators[rule["op"]][1] == DAYS:
        value = _("%(days)d days") % {"days": value}
    return " ".join(str(part) for part in (field.label, op_label, value) if part not in (None, ""))
