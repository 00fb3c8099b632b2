"""A record merged into another one is an empty shell: segments, lead-based assignment and lead scoring
count the kept record only, never the shell too."""

import pytest

from crm import roles
from customers import selectors
from customers.models import Customer, Segment, SegmentMember
from reports.models import CustomerScore
from reports.scoring import scores_recompute_all
from sales import services
from sales.models import AssignmentRule
from tests.factories import CustomerFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def merged(shell, kept):
    Customer.objects.filter(pk=shell.pk).update(merged_into=kept)


def test_a_segment_counts_the_kept_record_and_not_its_merged_shell(admin_user):
    kept = CustomerFactory(name="王小明", lifecycle_stage="lead")
    shell = CustomerFactory(name="王小明", lifecycle_stage="lead")
    merged(shell, kept)
    dynamic = Segment.objects.create(
        name="Leads",
        owner=admin_user,
        rules={"match": "all", "rules": [{"field": "lifecycle", "op": "in", "value": ["lead"]}]},
    )
    static = Segment.objects.create(name="List", kind=Segment.Kind.STATIC, owner=admin_user)
    SegmentMember.objects.bulk_create([SegmentMember(segment=static, customer=c) for c in (kept, shell)])

    assert set(selectors.segment_customers(segment=dynamic)) == {kept}
    assert set(selectors.segment_customers(segment=static)) == {kept}
    assert selectors.segment_count(segment=static) == 1


def test_least_open_assignment_does_not_count_a_reps_merged_lead_shells():
    team = TeamFactory(name="North")
    busy, other = (UserFactory(username=f"n{i}", role=roles.SALES_REP, team=team) for i in range(2))
    kept = CustomerFactory(owner=other, lifecycle_stage="lead")
    for _ in range(3):  # three shells merged away from busy's one real lead
        merged(CustomerFactory(owner=busy, lifecycle_stage="lead"), kept)
    CustomerFactory(owner=other, lifecycle_stage="lead")
    AssignmentRule.objects.create(name="All", team=team, strategy="least_open", applies_to="deals")

    deal = services.deal_create(actor=None, customer=CustomerFactory(), title="Who takes it?")

    assert deal.owner == busy


def test_nightly_scoring_skips_merged_shells():
    kept = CustomerFactory()
    shell = CustomerFactory()
    merged(shell, kept)

    scores_recompute_all()

    assert CustomerScore.objects.filter(customer=kept).exists()
    assert not CustomerScore.objects.filter(customer=shell).exists()
