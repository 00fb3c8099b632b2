import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crm import roles
from crm.models import AccessLog
from customers.models import ContactPoint, Customer, CustomerLookup, Interaction, Tag
from customers.normalise import mask_phone
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/customers/"


def detail_url(customer_or_pk):
    return f"/api/v1/customers/{getattr(customer_or_pk, 'pk', customer_or_pk)}/"


def timeline_url(customer):
    return f"/api/v1/customers/{customer.pk}/timeline/"


def post_json(client, url, data):
    return client.post(url, data, content_type="application/json")


def patch_json(client, url, data):
    return client.patch(url, data, content_type="application/json")


def names(response):
    return [item["name"] for item in response.json()["results"]]


@pytest.fixture
def stranger(other_team):
    """A customer of another team whom neither the rep nor the agent may see."""
    owner = UserFactory(username="stranger-owner", role=roles.SALES_REP, team=other_team)
    return CustomerFactory(
        name="陌生人 Stranger", owner=owner, phones=["0987-654-321"], emails=["s@example.com"]
    )


@pytest.fixture
def no_role_user(team):
    return UserFactory(username="no-role", team=team)


# Listing, searching, finding a caller ------------------------------------------------------------


def test_rep_lists_own_customers_and_not_other_teams(login, rep, customer, stranger):
    response = login(rep).get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["id"] == customer.pk
    assert item["name"] == "王小明"
    assert item["kind"] == "person"
    assert item["owner"] == rep.pk
    assert item["lifecycle_stage"] == "lead"
    assert item["tags"] == ["VIP"]
    assert "created_at" in item


def test_rep_searches_customers_by_part_of_the_name(login, rep, customer):
    CustomerFactory(name="陳大文", owner=rep)

    response = login(rep).get(LIST_URL, {"q": "小明"})

    assert names(response) == ["王小明"]


def test_rep_searches_customers_by_tag_name(login, rep, customer):
    CustomerFactory(name="Untagged", owner=rep)

    response = login(rep).get(LIST_URL, {"q": "vip"})

    assert names(response) == ["王小明"]


@pytest.mark.parametrize("typed", ["0912-345-678", "+886 912 345 678", "886912345678"])
def test_rep_finds_customer_by_phone_typed_in_another_format(login, rep, customer, typed):
    CustomerFactory(name="Someone else", owner=rep, phones=["0911-222-333"])

    response = login(rep).get(LIST_URL, {"phone": typed})

    assert response.status_code == 200
    assert names(response) == ["王小明"]


def test_rep_does_not_find_another_teams_customer_by_phone(login, rep, stranger):
    response = login(rep).get(LIST_URL, {"phone": "0987654321"})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_agent_finds_caller_by_phone_and_may_then_open_the_profile(login, agent, stranger):
    client = login(agent)
    assert client.get(detail_url(stranger)).status_code == 404

    response = client.get(LIST_URL, {"phone": "+886 987 654 321"})

    assert names(response) == ["陌生人 Stranger"]
    assert CustomerLookup.objects.filter(user=agent, customer=stranger, number="+886987654321").exists()
    assert client.get(detail_url(stranger)).status_code == 200
    assert client.get(timeline_url(stranger)).status_code == 200


@pytest.mark.parametrize("typed", ["12345", "not a number"])
def test_malformed_phone_lookup_is_refused_with_a_message(login, rep, typed):
    response = login(rep).get(LIST_URL, {"phone": typed})

    assert response.status_code == 400
    (message,) = response.json()["phone"]
    assert "phone number" in message


def test_list_is_paginated(login, rep):
    CustomerFactory.create_batch(30, owner=rep)

    first = login(rep).get(LIST_URL).json()
    second = login(rep).get(first["next"]).json()

    assert first["count"] == 30
    assert len(first["results"]) == 25
    assert len(second["results"]) == 5
    assert not {c["id"] for c in first["results"]} & {c["id"] for c in second["results"]}


def test_list_query_count_stays_the_same_however_many_customers(login, rep):
    client = login(rep)

    def queries_for_list():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST_URL)
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    for index in range(2):
        CustomerFactory(
            owner=rep, phones=[f"0912-000-00{index}"], emails=[f"c{index}@example.com"], tags=["A"]
        )
    few, shown_few = queries_for_list()
    for index in range(20):
        CustomerFactory(
            owner=rep, phones=[f"0913-000-0{index:02d}", f"0914-000-0{index:02d}"], tags=["A", f"t{index}"]
        )
    many, shown_many = queries_for_list()

    assert (shown_few, shown_many) == (2, 22)
    assert many == few


# Masking and the access log ------------------------------------------------------------------------


def test_agent_sees_masked_phones_and_emails_and_no_reveal_is_logged(login, agent, rep):
    customer = CustomerFactory(
        name="Caller", owner=agent, phones=["0912-345-678", "(02)2345-6789#12"], emails=["wang@example.com"]
    )

    response = login(agent).get(detail_url(customer))

    body = response.json()
    assert body["phones"] == [
        {"value": mask_phone("+886912345678"), "extension": "", "primary": True},
        {"value": mask_phone("+886223456789"), "extension": "", "primary": False},
    ]
    assert body["phones"][0]["value"].endswith("678")
    assert body["emails"] == [{"value": "w•••@example.com", "primary": True}]
    assert "912 345" not in response.content.decode()
    assert not AccessLog.objects.exists()


def test_agent_sees_masked_phones_in_the_list_too(login, agent):
    CustomerFactory(name="Caller", owner=agent, phones=["0912-345-678"])

    response = login(agent).get(LIST_URL)

    assert response.json()["results"][0]["phones"][0]["value"] == mask_phone("+886912345678")
    assert not AccessLog.objects.exists()


def test_rep_sees_real_contacts_and_the_reveal_is_logged_once_per_request(login, rep, customer):
    CustomerFactory(name="Second", owner=rep, phones=["0911-222-333"])
    CustomerFactory(name="No contacts", owner=rep)

    response = login(rep).get(LIST_URL, {"q": ""}, REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 200
    item = next(c for c in response.json()["results"] if c["id"] == customer.pk)
    assert item["phones"] == [{"value": "+886 912 345 678", "extension": "", "primary": True}]
    assert item["emails"] == [{"value": "wang@example.com", "primary": True}]
    log = AccessLog.objects.get()
    assert (log.user, log.action, log.field, log.object_id) == (rep, AccessLog.Action.REVEAL, "api", "")
    assert log.count == 2
    assert log.ip_address == "10.1.2.3"


def test_rep_opening_one_customer_logs_the_reveal_with_its_id(login, rep, customer):
    response = login(rep).get(detail_url(customer))

    assert response.json()["phones"][0]["value"] == "+886 912 345 678"
    log = AccessLog.objects.get()
    assert (log.object_id, log.count, log.field) == (str(customer.pk), 1, "api")


def test_extension_is_shown_apart_from_the_number_to_a_rep(login, rep):
    customer = CustomerFactory(owner=rep, phones=["(02)2345-6789#12"])

    response = login(rep).get(detail_url(customer))

    assert response.json()["phones"] == [{"value": "+886 2 2345 6789", "extension": "12", "primary": True}]


def test_empty_list_reveals_nothing_and_logs_nothing(login, rep):
    response = login(rep).get(LIST_URL)

    assert response.json()["results"] == []
    assert not AccessLog.objects.exists()


# Authentication and row access -----------------------------------------------------------------


def test_api_token_signs_the_user_in(rep, customer):
    token = Token.objects.create(user=rep)

    response = Client().get(LIST_URL, HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert names(response) == ["王小明"]


def test_token_made_with_the_management_command_works(rep, customer):
    call_command("drf_create_token", "rep", stdout=io.StringIO())
    key = Token.objects.get(user=rep).key

    response = Client().get(detail_url(customer), HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 200


def test_wrong_token_is_refused(customer):
    response = Client().get(LIST_URL, HTTP_AUTHORIZATION="Token not-a-real-key")

    assert response.status_code in (401, 403)


def test_anonymous_visitor_is_refused_everywhere(client, customer):
    for response in (
        client.get(LIST_URL),
        client.get(detail_url(customer)),
        client.get(timeline_url(customer)),
        post_json(client, LIST_URL, {"name": "Sneaky"}),
        patch_json(client, detail_url(customer), {"name": "Sneaky"}),
    ):
        assert response.status_code in (401, 403)
        assert "王小明" not in response.content.decode()
    assert Customer.objects.count() == 1


def test_customer_the_user_cannot_see_looks_like_it_does_not_exist(login, rep, stranger):
    client = login(rep)
    missing = Customer.objects.order_by("-pk").first().pk + 1000

    for pk in (stranger.pk, missing):
        assert client.get(detail_url(pk)).status_code == 404
        assert patch_json(client, detail_url(pk), {"name": "Renamed"}).status_code == 404
        assert client.get(f"/api/v1/customers/{pk}/timeline/").status_code == 404
    stranger.refresh_from_db()
    assert stranger.name == "陌生人 Stranger"
    assert "Stranger" not in client.get(detail_url(stranger)).content.decode()


def test_huge_customer_id_is_simply_not_found(login, rep):
    assert login(rep).get(detail_url(10**30)).status_code == 404


def test_user_without_a_role_sees_no_customers(login, no_role_user, customer):
    response = login(no_role_user).get(LIST_URL)

    assert response.json()["results"] == []


def test_user_without_add_permission_may_not_create(login, no_role_user):
    response = post_json(login(no_role_user), LIST_URL, {"name": "New"})

    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_user_without_change_permission_may_not_update(login, no_role_user, customer):
    response = patch_json(login(no_role_user), detail_url(customer), {"name": "Renamed"})

    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.name == "王小明"


# Creating ------------------------------------------------------------------------------------------


def test_rep_creates_customer_with_contacts_and_tags(login, rep):
    response = post_json(
        login(rep),
        LIST_URL,
        {
            "name": "  林美玲 ",
            "kind": "person",
            "lifecycle_stage": "prospect",
            "source": "trade fair",
            "phones": ["0912 345 678", "(02)2345-6789#12", ""],
            "emails": ["Lin@Example.com"],
            "tags": ["VIP", "vip", "Taipei"],
            "custom_attributes": {"shoe_size": 38},
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    customer = Customer.objects.get(pk=body["id"])
    assert customer.name == "林美玲"
    assert (customer.owner, customer.team) == (rep, rep.team)
    assert body["owner"] == rep.pk
    assert body["lifecycle_stage"] == "prospect"
    assert body["tags"] == ["Taipei", "VIP"]
    assert body["phones"] == [
        {"value": "+886 912 345 678", "extension": "", "primary": True},
        {"value": "+886 2 2345 6789", "extension": "12", "primary": False},
    ]
    assert body["emails"] == [{"value": "Lin@Example.com", "primary": True}]
    assert body["custom_attributes"] == {"shoe_size": 38}
    assert customer.interactions.filter(kind=Interaction.Kind.SYSTEM, actor=rep).exists()
    assert AccessLog.objects.get().object_id == str(customer.pk)


def test_agent_creating_a_customer_gets_the_contacts_back_masked(login, agent):
    response = post_json(login(agent), LIST_URL, {"name": "Caller", "phones": ["0912-345-678"]})

    assert response.status_code == 201
    assert response.json()["phones"][0]["value"] == mask_phone("+886912345678")
    assert ContactPoint.objects.get().normalised == "+886912345678"


def test_create_assigns_another_owner(login, rep, other_rep):
    response = post_json(login(rep), LIST_URL, {"name": "For a colleague", "owner": other_rep.pk})

    assert response.status_code == 201
    assert Customer.objects.get().owner == other_rep


def test_create_rejects_each_bad_field_with_its_own_message_and_saves_nothing(login, rep):
    tags_before = Tag.objects.count()

    response = post_json(
        login(rep),
        LIST_URL,
        {
            "name": "   ",
            "kind": "robot",
            "owner": 999999,
            "lifecycle_stage": "",
            "phones": ["0912-345-678", "12345"],
            "emails": ["ok@example.com", "not-an-email"],
            "tags": ["x" * 51],
            "custom_attributes": ["not", "an", "object"],
        },
    )

    assert response.status_code == 400
    errors = response.json()
    assert errors["name"] == ["Enter the customer's name."]
    assert errors["phones"] == [
        "“12345” is not a valid phone number. Check the digits, or add the country code (e.g. +886)."
    ]
    assert errors["emails"] == ["“not-an-email” is not a valid e-mail address."]
    assert set(errors) == {
        "name",
        "kind",
        "owner",
        "lifecycle_stage",
        "phones",
        "emails",
        "tags",
        "custom_attributes",
    }
    assert Customer.objects.count() == 0
    assert ContactPoint.objects.count() == 0
    assert Tag.objects.count() == tags_before


def test_one_bad_phone_among_good_ones_saves_nothing(login, rep):
    response = post_json(
        login(rep), LIST_URL, {"name": "Half", "phones": ["0912-345-678", "0912"], "tags": ["New tag"]}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["phones"]
    assert Customer.objects.count() == 0
    assert not Tag.objects.filter(name="New tag").exists()


def test_create_without_a_name_says_the_name_is_needed(login, rep):
    response = post_json(login(rep), LIST_URL, {"phones": ["0912-345-678"]})

    assert response.status_code == 400
    assert response.json() == {"name": ["Enter the customer's name."]}


def test_organisation_must_be_one_the_user_can_see(login, rep, other_team):
    hidden_org = CustomerFactory(name="Hidden Org", kind="organisation")
    own_org = CustomerFactory(name="Own Org", kind="organisation", owner=rep)
    client = login(rep)

    refused = post_json(client, LIST_URL, {"name": "Employee", "organisation": hidden_org.pk})
    accepted = post_json(client, LIST_URL, {"name": "Employee", "organisation": own_org.pk})

    assert refused.status_code == 400
    assert list(refused.json()) == ["organisation"]
    assert accepted.status_code == 201
    assert accepted.json()["organisation"] == own_org.pk


def test_organisation_cannot_belong_to_an_organisation(login, rep):
    org = CustomerFactory(name="Org", kind="organisation", owner=rep)

    response = post_json(
        login(rep), LIST_URL, {"name": "Sub", "kind": "organisation", "organisation": org.pk}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["organisation"]


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "a\\u0000b"}',
        '{"name": "\\ud800"}',
        '{"name": "ok", "phones": ["0912\\u0000345678"]}',
        '{"name": "ok", "custom_attributes": {"a": "b\\u0000"}}',
        '{"name": "ok", "custom_attributes": {"k\\ud800": 1}}',
        '{"name": "ok", "custom_attributes": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}",
        '{"name": "ok", "phones": "0912-345-678"}',
        '{"name": "ok", "phones": [{"value": "0912-345-678"}]}',
        '{"name": "ok", "tags": "VIP"}',
        '{"name": "ok", "owner": "me"}',
        '{"name": "ok", "owner": 100000000000000000000000000000}',
        '{"name": "ok", "team": -1}',
        '{"name": ["a"]}',
        '["not", "an", "object"]',
        '{"name": ',
        "[" * 100000,
    ],
)
def test_create_refuses_malformed_input_without_a_server_error(login, rep, body):
    response = login(rep).post(LIST_URL, body, content_type="application/json")

    assert response.status_code == 400
    assert Customer.objects.count() == 0


# Changing ------------------------------------------------------------------------------------------


def test_rep_renames_customer_and_moves_it_along_the_lifecycle(login, rep, customer):
    response = patch_json(login(rep), detail_url(customer), {"name": "王大明", "lifecycle_stage": "customer"})

    assert response.status_code == 200
    assert response.json()["name"] == "王大明"
    customer.refresh_from_db()
    assert (customer.name, customer.lifecycle_stage) == ("王大明", "customer")
    assert customer.interactions.filter(actor=rep, data__field="name").exists()
    assert customer.interactions.filter(actor=rep, data__field="lifecycle_stage").exists()


def test_patch_replaces_tags(login, rep, customer):
    response = patch_json(login(rep), detail_url(customer), {"tags": ["Gold", "Taipei"]})

    assert response.json()["tags"] == ["Gold", "Taipei"]
    assert sorted(customer.tags.values_list("name", flat=True)) == ["Gold", "Taipei"]


def test_patch_adds_new_contacts_and_keeps_existing_ones(login, rep, customer):
    response = patch_json(
        login(rep),
        detail_url(customer),
        {"phones": ["+886 912 345 678", "0911-222-333"], "emails": ["WANG@example.com", "w2@example.com"]},
    )

    assert response.status_code == 200
    assert [p["value"] for p in response.json()["phones"]] == ["+886 912 345 678", "+886 911 222 333"]
    assert [e["value"] for e in response.json()["emails"]] == ["wang@example.com", "w2@example.com"]
    assert customer.contact_points.count() == 4


def test_patch_with_bad_data_changes_nothing(login, rep, customer):
    response = patch_json(
        login(rep), detail_url(customer), {"lifecycle_stage": "customer", "phones": ["0911-222-333", "12345"]}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["phones"]
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "lead"
    assert customer.contact_points.count() == 2


def test_patch_with_blank_name_is_refused(login, rep, customer):
    response = patch_json(login(rep), detail_url(customer), {"name": ""})

    assert response.status_code == 400
    assert response.json() == {"name": ["Enter the customer's name."]}


def test_customer_cannot_become_its_own_organisation(login, rep):
    org = CustomerFactory(name="Org", kind="organisation", owner=rep)

    response = patch_json(login(rep), detail_url(org), {"kind": "person", "organisation": org.pk})

    assert response.status_code == 400
    assert list(response.json()) == ["organisation"]


def test_put_and_delete_are_not_offered(login, rep, customer):
    client = login(rep)

    assert client.put(detail_url(customer), {"name": "x"}, content_type="application/json").status_code == 405
    assert client.delete(detail_url(customer)).status_code == 405
    assert Customer.objects.filter(pk=customer.pk).exists()


# Timeline ------------------------------------------------------------------------------------------


def test_timeline_pages_through_the_whole_history_newest_first_without_duplicates(login, rep, customer):
    start = timezone.now() - dt.timedelta(days=30)
    for index in range(45):
        # Pairs share a timestamp, so the cursor has to break ties by id.
        InteractionFactory(customer=customer, occurred_at=start + dt.timedelta(hours=index // 2), actor=rep)
    client = login(rep)

    seen, url, pages = [], timeline_url(customer), 0
    while url:
        body = client.get(url).json()
        seen.extend(body["results"])
        url, pages = body["next"], pages + 1

    assert pages == 3
    assert len(seen) == 45
    assert len({entry["id"] for entry in seen}) == 45
    keys = [(entry["occurred_at"], entry["id"]) for entry in seen]
    assert keys == sorted(keys, reverse=True)
    assert set(seen[0]) == {"id", "occurred_at", "kind", "channel", "summary", "actor", "data"}
    assert seen[0]["actor"] == "rep"


def test_timeline_entry_without_actor_shows_null(login, rep, customer):
    InteractionFactory(customer=customer, actor=None, kind="call", channel="phone", data={"seconds": 42})

    (entry,) = login(rep).get(timeline_url(customer)).json()["results"]

    assert entry["actor"] is None
    assert (entry["kind"], entry["channel"], entry["data"]) == ("call", "phone", {"seconds": 42})


def test_timeline_filters_by_kind_and_channel_and_keeps_them_on_the_next_page(login, rep, customer):
    for _index in range(3):
        InteractionFactory(customer=customer, kind="call", channel="phone")
        InteractionFactory(customer=customer, kind="message_in", channel="line")
        InteractionFactory(customer=customer, kind="note", channel="crm")
    client = login(rep)

    first = client.get(
        timeline_url(customer), {"kind": ["call", "message_in"], "channel": "line", "limit": 2}
    )
    body = first.json()
    rest = client.get(body["next"]).json()

    assert [e["kind"] for e in body["results"] + rest["results"]] == ["message_in"] * 3
    assert rest["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgMV0"}, "cursor"),  # a naive time
        ({"kind": "gossip"}, "kind"),
        ({"channel": "pigeon"}, "channel"),
        ({"limit": "0"}, "limit"),
        ({"limit": "lots"}, "limit"),
    ],
)
def test_timeline_refuses_bad_parameters_with_a_message(login, rep, customer, params, field):
    response = login(rep).get(timeline_url(customer), params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_timeline_costs_the_same_queries_however_long_the_history(login, rep, customer):
    client = login(rep)
    InteractionFactory.create_batch(3, customer=customer, actor=rep)
    with CaptureQueriesContext(connection) as short:
        client.get(timeline_url(customer))
    InteractionFactory.create_batch(60, customer=customer, actor=rep)
    with CaptureQueriesContext(connection) as long:
        client.get(timeline_url(customer))

    assert len(long) == len(short)


# Robustness of the list's parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "a\x00b"}, 400),
        ({"phone": "0912\x00345678"}, 400),
        ({"q": "王" * 5000}, 200),
        ({"page": "999"}, 404),
    ],
)
def test_list_answers_odd_parameters_with_a_client_error_not_a_crash(login, rep, customer, params, status):
    response = login(rep).get(LIST_URL, params)

    assert response.status_code == status


# Schema --------------------------------------------------------------------------------------------


def test_schema_and_docs_are_served(login, rep):
    client = login(rep)

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert {"/api/v1/customers/", "/api/v1/customers/{id}/", "/api/v1/customers/{id}/timeline/"} <= set(paths)
    assert docs.status_code == 200
