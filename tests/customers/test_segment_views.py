"""The segment pages as their users meet them: build with a live count, see members, keep lists."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import services
from customers.models import Segment, SegmentMember
from tests.factories import CustomerFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db


def owner_is(user):
    return {"match": "all", "rules": [{"field": "owner", "op": "in", "value": [user.pk]}]}


def test_a_rep_builds_a_segment_and_lands_on_its_members(login, rep):
    vip = TagFactory(name="VIP")
    CustomerFactory(name="王小明", owner=rep, tags=[vip], phones=["0912-345-678"])
    CustomerFactory(name="Not VIP", owner=rep)
    client = login(rep)
    assert client.get(reverse("customers:segment-create")).status_code == 200
    rules = {"match": "all", "rules": [{"field": "tags", "op": "any_of", "value": [vip.pk]}]}
    response = client.post(
        reverse("customers:segment-create"),
        {"name": "VIPs", "kind": "dynamic", "rules": json.dumps(rules), "shared": "on"},
    )
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:segment-detail", args=[segment.pk]
    )
    assert segment.owner == rep and segment.shared and segment.rules == rules
    page = client.get(response["Location"]).content.decode()
    assert "王小明" in page and "Not VIP" not in page
    assert "0912" not in page and "345-678" not in page  # masked
    assert "Tags has any of VIP" in page


def test_the_builder_counts_only_customers_the_user_may_see(login, rep, other_team):
    outsider = UserFactory(username="outsider", team=other_team)
    CustomerFactory(owner=rep, source="LINE ad")
    CustomerFactory(owner=outsider, source="LINE ad")
    rules = {"match": "all", "rules": [{"field": "source", "op": "contains", "value": "line"}]}
    response = login(rep).post(reverse("customers:segment-preview"), {"rules": json.dumps(rules)})
    assert 'data-testid="segment-count-value">1<' in response.content.decode()


def test_the_builder_explains_an_unfinished_condition(login, rep):
    rules = {"match": "all", "rules": [{"field": "tags", "op": "any_of", "value": []}]}
    response = login(rep).post(reverse("customers:segment-preview"), {"rules": json.dumps(rules)})
    assert "choose at least one" in response.content.decode()
    response = login(rep).post(reverse("customers:segment-preview"), {"rules": "{not json"})
    assert "could not be read" in response.content.decode()


def test_a_segment_without_conditions_is_not_saved(login, rep):
    response = login(rep).post(
        reverse("customers:segment-create"),
        {"name": "All", "kind": "dynamic", "rules": json.dumps({"match": "all", "rules": []})},
    )
    assert response.status_code == 200 and "Add at least one condition" in response.content.decode()
    assert not Segment.objects.exists()


def test_someone_elses_private_segment_is_not_found_and_shared_ones_are_read_only(login, rep, other_rep):
    private = services.segment_save(actor=other_rep, name="Private", rules=owner_is(other_rep))
    shared = services.segment_save(actor=other_rep, name="Shared", rules=owner_is(other_rep), shared=True)
    client = login(rep)
    assert client.get(reverse("customers:segment-detail", args=[private.pk])).status_code == 404
    assert client.get(reverse("customers:segment-detail", args=[shared.pk])).status_code == 200
    assert client.get(reverse("customers:segment-edit", args=[shared.pk])).status_code == 403
    assert client.post(reverse("customers:segment-delete", args=[shared.pk])).status_code == 403
    listing = client.get(reverse("customers:segments")).content.decode()
    assert "Shared" in listing and "Private" not in listing


def test_agents_may_open_segments_but_not_build_them(login, agent):
    client = login(agent)
    assert client.get(reverse("customers:segments")).status_code == 200
    assert client.get(reverse("customers:segment-create")).status_code == 403


def test_a_static_list_gains_and_loses_members(login, rep):
    customer = CustomerFactory(name="陳美玲", owner=rep)
    static = services.segment_save(actor=rep, name="Call back", kind=Segment.Kind.STATIC)
    client = login(rep)
    found = client.get(
        reverse("customers:segment-detail", args=[static.pk]), {"add": "陳美"}
    ).content.decode()
    assert "陳美玲" in found
    client.post(reverse("customers:segment-members-add", args=[static.pk]), {"customer": [customer.pk, "x"]})
    assert list(SegmentMember.objects.values_list("customer_id", flat=True)) == [customer.pk]
    client.post(reverse("customers:segment-members-remove", args=[static.pk]), {"customer": [customer.pk]})
    assert not SegmentMember.objects.exists()


def test_deleting_asks_first_then_removes_only_the_segment(login, rep):
    customer = CustomerFactory(owner=rep)
    segment = services.segment_save(actor=rep, name="Mine", rules=owner_is(rep))
    client = login(rep)
    assert (
        "Delete “Mine”?"
        in client.get(reverse("customers:segment-delete", args=[segment.pk])).content.decode()
    )
    client.post(reverse("customers:segment-delete", args=[segment.pk]))
    assert not Segment.objects.exists()
    customer.refresh_from_db()


def test_the_member_list_costs_the_same_queries_for_5_or_25_members(login, admin_user):
    segment = services.segment_save(actor=admin_user, name="Mine", rules=owner_is(admin_user))
    client = login(admin_user)
    url = reverse("customers:segment-detail", args=[segment.pk])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for _ in range(5):
        CustomerFactory(owner=admin_user, phones=["0912-000-001"], tags=["A"])
    few = queries()
    for _ in range(20):
        CustomerFactory(owner=admin_user, phones=["0912-000-002"], tags=["B"])
    assert queries() == few
    assert few <= 12, few


def test_a_segment_count_is_reused_until_the_segment_changes(login, rep):
    CustomerFactory(owner=rep)
    static = services.segment_save(actor=rep, name="List", kind=Segment.Kind.STATIC)
    client = login(rep)
    url = reverse("customers:segment-count", args=[static.pk])
    assert ">0<" in client.get(url).content.decode()
    services.segment_members_add(actor=rep, segment=static, customer_ids=[CustomerFactory(owner=rep).pk])
    assert ">1<" in client.get(url).content.decode()


def test_the_customer_list_results_can_be_saved_as_a_static_list(login, rep, other_team):
    vip = TagFactory(name="VIP")
    mine = CustomerFactory(name="王小明", owner=rep, tags=[vip])
    CustomerFactory(name="Not VIP", owner=rep)
    outsider = UserFactory(username="outsider", team=other_team)
    CustomerFactory(name="Hidden VIP", owner=outsider, tags=[vip])
    client = login(rep)
    listing = client.get(reverse("customers:list"), {"tag": vip.pk}).content.decode()
    assert reverse("customers:segment-from-customers") + f"?tag={vip.pk}" in listing
    confirm = client.get(reverse("customers:segment-from-customers"), {"tag": vip.pk}).content.decode()
    assert "1 customer you may see" in confirm
    response = client.post(
        reverse("customers:segment-from-customers"), {"tag": vip.pk, "name": "VIP call list"}
    )
    static = Segment.objects.get(name="VIP call list")
    assert response["Location"] == reverse("customers:segment-detail", args=[static.pk])
    assert static.is_static and list(static.members.values_list("customer_id", flat=True)) == [mine.pk]
    refused = client.post(reverse("customers:segment-from-customers"), {"tag": vip.pk, "name": " "})
    assert "Give the segment a name" in refused.content.decode()
