"""Segment rules against a small hand-built set of customers whose answers were worked out by hand."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import segments, selectors, services
from customers.models import Consent, Segment, SocialIdentity
from tests.factories import CustomerFactory, InteractionFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T04:00:00+00:00")  # noon in Taipei


@pytest.fixture
def people(rep, other_rep):
    """Amy, Ben, Cai and Dee; every rule below was checked against this table by hand.

    | who | tags      | stage     | owner     | source      | follows        | marketing consent     | interactions                          | attributes        |
    | Amy | VIP, 北部 | customer  | rep       | facebook ad | LINE @brand    | granted               | calls 06-01, 11-01, 11-10             | level gold, age 30|
    | Ben | VIP       | lead      | other_rep | Walk-in     | LINE, unfollowed | granted, then withdrawn | message_in 01-05                    | level silver      |
    | Cai | 北部      | prospect  | nobody    |             | WeChat         | withdrawn, then granted | none                                | none              |
    | Dee |           | churned   | rep       | Facebook    |                | none (service granted) | call 11-18, notes 11-19 (two)        | level platinum    |
    """  # noqa: E501
    vip, north = TagFactory(name="VIP"), TagFactory(name="北部")
    amy = CustomerFactory(
        name="Amy",
        owner=rep,
        lifecycle_stage="customer",
        source="facebook ad",
        tags=[vip, north],
        custom_attributes={"level": "gold", "age": 30},
        created_at=at("2026-01-10"),
    )
    ben = CustomerFactory(
        name="Ben",
        owner=other_rep,
        lifecycle_stage="lead",
        source="Walk-in",
        tags=[vip],
        custom_attributes={"level": "silver"},
        created_at=at("2026-03-10"),
    )
    cai = CustomerFactory(name="Cai", lifecycle_stage="prospect", tags=[north], created_at=at("2026-06-10"))
    dee = CustomerFactory(
        name="Dee",
        owner=rep,
        lifecycle_stage="churned",
        source="Facebook",
        custom_attributes={"level": "platinum"},
        created_at=at("2026-09-10"),
    )
    SocialIdentity.objects.create(customer=amy, provider="line", channel="@brand", external_id="U1")
    SocialIdentity.objects.create(
        customer=ben, provider="line", channel="@brand", external_id="U2", followed=False
    )
    SocialIdentity.objects.create(customer=cai, provider="wechat", channel="gh_1", external_id="o3")
    Consent.objects.create(customer=amy, purpose="marketing", granted=True, occurred_at=at("2026-02-01"))
    Consent.objects.create(customer=ben, purpose="marketing", granted=True, occurred_at=at("2026-02-01"))
    Consent.objects.create(customer=ben, purpose="marketing", granted=False, occurred_at=at("2026-05-01"))
    Consent.objects.create(customer=cai, purpose="marketing", granted=False, occurred_at=at("2026-02-01"))
    Consent.objects.create(customer=cai, purpose="marketing", granted=True, occurred_at=at("2026-07-01"))
    Consent.objects.create(customer=dee, purpose="service", granted=True, occurred_at=at("2026-02-01"))
    for day in ("2026-06-01", "2026-11-01", "2026-11-10"):
        InteractionFactory(customer=amy, kind="call", channel="phone", occurred_at=at(day))
    InteractionFactory(customer=ben, kind="message_in", channel="line", occurred_at=at("2026-01-05"))
    InteractionFactory(customer=dee, kind="call", channel="phone", occurred_at=at("2026-11-18"))
    InteractionFactory(customer=dee, kind="note", occurred_at=at("2026-11-19"))
    InteractionFactory(customer=dee, kind="note", occurred_at=at("2026-11-19"))
    return {"Amy": amy, "Ben": ben, "Cai": cai, "Dee": dee, "vip": vip, "north": north}


def matching(rules) -> set[str]:
    validated = segments.validate_rules(rules)
    return set(segments.rules_queryset(validated, now=NOW).values_list("name", flat=True))


def rule(field, op, value=None, match="all"):
    return {"match": match, "rules": [{"field": field, "op": op, "value": value}]}


def test_tag_rules_pick_customers_with_any_all_or_none_of_the_tags(people):
    vip, north = people["vip"].pk, people["north"].pk
    assert matching(rule("tags", "any_of", [vip])) == {"Amy", "Ben"}
    assert matching(rule("tags", "any_of", [vip, north])) == {"Amy", "Ben", "Cai"}
    assert matching(rule("tags", "all_of", [vip, north])) == {"Amy"}
    assert matching(rule("tags", "none_of", [vip])) == {"Cai", "Dee"}


def test_lifecycle_owner_team_and_source_rules(people, rep, other_rep):
    assert matching(rule("lifecycle", "in", ["lead", "prospect"])) == {"Ben", "Cai"}
    assert matching(rule("lifecycle", "not_in", ["lead"])) == {"Amy", "Cai", "Dee"}
    assert matching(rule("owner", "in", [rep.pk])) == {"Amy", "Dee"}
    assert matching(rule("owner", "not_in", [rep.pk])) == {"Ben", "Cai"}  # nobody's customers too
    assert matching(rule("owner", "empty")) == {"Cai"}
    assert matching(rule("owner", "not_empty")) == {"Amy", "Ben", "Dee"}
    assert matching(rule("team", "in", [rep.team_id])) == {"Amy", "Ben", "Dee"}
    assert matching(rule("team", "empty")) == {"Cai"}
    assert matching(rule("source", "is", "FACEBOOK")) == {"Dee"}
    assert matching(rule("source", "contains", "face")) == {"Amy", "Dee"}
    assert matching(rule("source", "is_not", "walk-in")) == {"Amy", "Cai", "Dee"}
    assert matching(rule("source", "empty")) == {"Cai"}
    assert matching(rule("source", "not_empty")) == {"Amy", "Ben", "Dee"}


def test_followed_channel_counts_only_current_followers(people):
    assert matching(rule("channel_followed", "follows", {"provider": "line"})) == {"Amy"}
    assert matching(rule("channel_followed", "follows", {"provider": "line", "channel": "@brand"})) == {"Amy"}
    assert matching(rule("channel_followed", "follows", {"provider": "line", "channel": "@other"})) == set()
    assert matching(rule("channel_followed", "not_follows", {"provider": "line"})) == {"Ben", "Cai", "Dee"}
    assert matching(rule("channel_followed", "follows", {"provider": "wechat"})) == {"Cai"}


def test_consent_follows_the_newest_choice_for_the_purpose(people):
    assert matching(rule("consent", "granted", "marketing")) == {"Amy", "Cai"}  # Ben withdrew
    assert matching(rule("consent", "not_granted", "marketing")) == {"Ben", "Dee"}
    assert matching(rule("consent", "granted", "service")) == {"Dee"}


def test_last_interaction_dates(people):
    assert matching(rule("last_interaction", "before", "2026-11-01")) == {"Ben"}
    assert matching(rule("last_interaction", "before", "2026-11-12")) == {"Amy", "Ben"}
    assert matching(rule("last_interaction", "after", "2026-11-15")) == {"Dee"}
    assert matching(rule("last_interaction", "within_days", 15)) == {"Amy", "Dee"}
    assert matching(rule("last_interaction", "not_within_days", 15)) == {"Ben", "Cai"}
    assert matching(rule("last_interaction", "never")) == {"Cai"}


def test_interaction_counts_by_kind_and_period(people):
    def count(op, n, kind="", days=None):
        return matching(rule("interaction_count", op, {"kind": kind, "count": n, "days": days}))

    assert count("at_least", 2, "call") == {"Amy"}
    assert count("at_least", 3) == {"Amy", "Dee"}
    assert count("at_least", 1, "message_in") == {"Ben"}
    assert count("exactly", 1, "call") == {"Dee"}
    assert count("exactly", 2, "note") == {"Dee"}
    assert count("at_most", 1) == {"Ben", "Cai"}
    assert count("exactly", 0) == {"Cai"}
    assert count("at_least", 0) == {"Amy", "Ben", "Cai", "Dee"}
    assert count("at_least", 2, "call", days=30) == {"Amy"}  # 11-01 and 11-10
    assert count("at_least", 2, "call", days=15) == set()


def test_custom_attribute_rules(people):
    def attribute(op, key, value=""):
        return matching(rule("attribute", op, {"key": key, "value": value}))

    assert attribute("equals", "level", "gold") == {"Amy"}
    assert attribute("not_equals", "level", "gold") == {"Ben", "Cai", "Dee"}
    assert attribute("contains", "level", "IL") == {"Ben"}
    assert attribute("exists", "level") == {"Amy", "Ben", "Dee"}
    assert attribute("not_exists", "level") == {"Cai"}
    assert attribute("equals", "age", "30") == {"Amy"}


def test_created_dates(people):
    assert matching(rule("created", "before", "2026-06-10")) == {"Amy", "Ben"}
    assert matching(rule("created", "after", "2026-06-10")) == {"Cai", "Dee"}


def test_groups_combine_with_and_or_at_any_depth(people, rep):
    vip = people["vip"].pk
    either = {
        "match": "any",
        "rules": [
            {
                "match": "all",
                "rules": [
                    {"field": "tags", "op": "any_of", "value": [vip]},
                    {"field": "lifecycle", "op": "in", "value": ["lead"]},
                ],
            },
            {
                "match": "all",
                "rules": [
                    {"field": "channel_followed", "op": "follows", "value": {"provider": "wechat"}},
                    {"field": "consent", "op": "granted", "value": "marketing"},
                ],
            },
        ],
    }
    assert matching(either) == {"Ben", "Cai"}
    nested = {
        "match": "all",
        "rules": [
            {"field": "owner", "op": "not_empty"},
            {
                "match": "any",
                "rules": [
                    {
                        "match": "all",
                        "rules": [
                            {"field": "source", "op": "contains", "value": "face"},
                            {"field": "interaction_count", "op": "at_least", "value": {"count": 3}},
                        ],
                    },
                    {"field": "lifecycle", "op": "in", "value": ["lead"]},
                ],
            },
        ],
    }
    assert matching(nested) == {"Amy", "Ben", "Dee"}
    assert matching({"match": "any", "rules": [{"match": "all", "rules": []}, rule("owner", "empty")]}) == {
        "Cai"
    }


def test_counting_a_segment_costs_one_query_however_complex(people, rep):
    segment = services.segment_save(
        actor=rep,
        name="Warm VIPs",
        rules={
            "match": "all",
            "rules": [
                {"field": "tags", "op": "any_of", "value": [people["vip"].pk]},
                {"field": "consent", "op": "granted", "value": "marketing"},
                {
                    "match": "any",
                    "rules": [
                        {"field": "last_interaction", "op": "within_days", "value": 3650},
                        {
                            "field": "interaction_count",
                            "op": "at_least",
                            "value": {"kind": "call", "count": 2},
                        },
                    ],
                },
            ],
        },
    )
    with CaptureQueriesContext(connection) as captured:
        assert selectors.segment_count(segment=segment) == 1
    assert len(captured) == 1
    assert list(selectors.segment_customers(segment=segment)) == [people["Amy"]]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"match": "some", "rules": []}, "all"),
        (rule("nope", "in", [1]), "Choose what"),
        (rule("tags", "like", [1]), "comparison"),
        (rule("tags", "any_of", []), "at least one"),
        (rule("tags", "any_of", ["x"]), "choose from"),
        (rule("lifecycle", "in", ["vip"]), "choose from"),
        (rule("source", "is", "  "), "enter a value"),
        (rule("last_interaction", "before", "20/11/2026"), "YYYY-MM-DD"),
        (rule("last_interaction", "within_days", 0), "days"),
        (rule("channel_followed", "follows", {"provider": "icq"}), "LINE"),
        (rule("interaction_count", "at_least", {"kind": "fax", "count": 1}), "kind"),
        (rule("interaction_count", "at_least", {"count": -1}), "from 0"),
        (rule("attribute", "equals", {"key": "a__b'; drop", "value": "x"}), "name"),
        (rule("attribute", "equals", {"key": "level", "value": ""}), "value"),
        (
            {
                "match": "all",
                "rules": [{"match": "all", "rules": [{"match": "all", "rules": [{"rules": []}]}]}],
            },
            "deep",
        ),
        ("not rules", "shape"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(rules, message):
    with pytest.raises(ValidationError) as excinfo:
        segments.validate_rules(rules)
    assert message in " ".join(excinfo.value.messages)


def test_a_dynamic_segment_needs_a_condition_and_writes_nothing_when_refused(rep):
    with pytest.raises(ValidationError):
        services.segment_save(actor=rep, name="Everyone", rules={"match": "all", "rules": []})
    with pytest.raises(ValidationError):
        services.segment_save(actor=rep, name=" ", rules=rule("owner", "empty"))
    assert not Segment.objects.exists()


def test_agents_use_segments_but_do_not_build_them(agent):
    with pytest.raises(PermissionDenied):
        services.segment_save(actor=agent, name="Mine", rules=rule("owner", "empty"))


def test_reps_see_their_own_and_shared_segments_and_edit_only_their_own(rep, other_rep, manager):
    own = services.segment_save(actor=rep, name="Mine", rules=rule("owner", "empty"))
    shared = services.segment_save(actor=other_rep, name="Shared", rules=rule("owner", "empty"), shared=True)
    private = services.segment_save(actor=other_rep, name="Private", rules=rule("owner", "empty"))
    assert set(selectors.segments_visible_to(rep)) == {own, shared}
    assert selectors.segment_editable_by(rep, own) and not selectors.segment_editable_by(rep, shared)
    with pytest.raises(PermissionDenied):
        services.segment_save(actor=rep, segment=shared, name="Taken", rules=rule("owner", "empty"))
    private.team = manager.team
    private.save()
    assert private in selectors.segments_visible_to(manager)
    assert selectors.segment_editable_by(manager, private)


def test_a_static_list_takes_only_customers_the_user_may_see(rep, other_team):
    mine = CustomerFactory(name="Mine", owner=rep)
    outsider = UserFactory(username="outsider", team=other_team)
    hidden = CustomerFactory(name="Hidden", owner=outsider)
    static = services.segment_save(actor=rep, name="Call back", kind=Segment.Kind.STATIC)
    assert services.segment_members_add(actor=rep, segment=static, customer_ids=[mine.pk, hidden.pk]) == 1
    assert services.segment_members_add(actor=rep, segment=static, customer_ids=[mine.pk]) == 0
    assert list(selectors.segment_customers(segment=static)) == [mine]
    assert selectors.segment_count(segment=static, user=rep) == 1
    assert services.segment_members_remove(actor=rep, segment=static, customer_ids=[mine.pk]) == 1
    assert selectors.segment_count(segment=static) == 0


def test_freezing_a_dynamic_segment_copies_its_current_visible_members(people, rep):
    dynamic = services.segment_save(actor=rep, name="Mine", rules=rule("owner", "in", [rep.pk]))
    frozen = services.segment_freeze(actor=rep, segment=dynamic, name="Mine on 20 Nov")
    assert frozen.is_static
    assert set(selectors.segment_customers(segment=frozen).values_list("name", flat=True)) == {"Amy", "Dee"}


def test_consent_rows_at_the_same_moment_are_ordered_by_when_they_were_recorded(rep):
    moment = at("2026-03-01")
    same_time = CustomerFactory(name="Eve", owner=rep)
    Consent.objects.create(customer=same_time, purpose="marketing", granted=True, occurred_at=moment)
    Consent.objects.create(customer=same_time, purpose="marketing", granted=False, occurred_at=moment)
    assert matching(rule("consent", "granted", "marketing")) == set()
    assert matching(rule("consent", "not_granted", "marketing")) == {"Eve"}
