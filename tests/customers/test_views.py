import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import AccessLog
from customers import services
from customers.models import Customer
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def count_queries(client, url, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("typed", ["0912-345-678", "+886 912 345 678", "886912345678", "345678"])
def test_rep_finds_customer_by_phone_in_any_format(login, rep, customer, typed):
    response = login(rep).get(reverse("customers:list"), {"q": typed})
    assert "王小明" in response.content.decode()


@pytest.mark.parametrize("typed", ["小明", "王", "WANG@example", "vip"])
def test_rep_finds_customer_by_partial_name_email_or_tag(login, rep, customer, typed):
    CustomerFactory(name="Someone Else", owner=rep)
    response = login(rep).get(reverse("customers:list"), {"q": typed})
    body = response.content.decode()
    assert "王小明" in body and "Someone Else" not in body


def test_list_filters_by_lifecycle_and_sorts_by_name(login, rep):
    CustomerFactory(name="B lead", owner=rep, lifecycle_stage="lead")
    CustomerFactory(name="A lead", owner=rep, lifecycle_stage="lead")
    CustomerFactory(name="C customer", owner=rep, lifecycle_stage="customer")
    body = login(rep).get(reverse("customers:list"), {"lifecycle": "lead", "sort": "name"}).content.decode()
    assert body.index("A lead") < body.index("B lead") and "C customer" not in body


def test_search_without_match_offers_to_create_the_customer(login, rep):
    body = login(rep).get(reverse("customers:list"), {"q": "0933-111-222"}).content.decode()
    assert "No customer matches" in body and "phone=0933-111-222" in body


def test_list_page_costs_the_same_queries_for_5_or_50_customers(login, rep):
    client = login(rep)
    for index in range(5):
        CustomerFactory(owner=rep, phones=[f"0912-000-{index:03d}"], tags=["VIP"])
    few = count_queries(client, reverse("customers:list"))
    for index in range(45):
        CustomerFactory(owner=rep, phones=[f"0922-000-{index:03d}"], tags=["VIP", "new"])
    assert count_queries(client, reverse("customers:list")) == few


def test_list_shows_masked_phone_numbers(login, rep, customer):
    body = login(rep).get(reverse("customers:list")).content.decode()
    assert "+886 ••• ••• 678" in body and "912 345" not in body


def test_360_page_costs_the_same_queries_whatever_the_history_length(login, rep, customer):
    client = login(rep)
    url = reverse("customers:detail", args=[customer.pk])
    InteractionFactory.create_batch(3, customer=customer, actor=rep)
    short = count_queries(client, url)
    InteractionFactory.create_batch(200, customer=customer, actor=rep)
    assert count_queries(client, url) == short


def test_360_page_shows_header_contacts_masked_and_the_timeline(login, rep, customer):
    services.note_add(customer=customer, actor=rep, text="Wants the premium plan")
    body = login(rep).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "王小明" in body and "VIP" in body
    assert "+886 ••• ••• 678" in body and "w•••@example.com" in body
    assert "Wants the premium plan" in body
    for panel in ("deals", "tickets", "calls", "conversations"):
        assert f'data-testid="panel-{panel}"' in body


def test_timeline_load_more_pages_through_history_without_repeats(login, rep, customer):
    InteractionFactory.create_batch(45, customer=customer)
    client = login(rep)
    url = reverse("customers:detail", args=[customer.pk])
    seen, cursor = [], None
    for _ in range(3):
        params = {"cursor": cursor} if cursor else {}
        response = client.get(url, params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-more")
        body = response.content.decode()
        seen += [line for line in body.splitlines() if "Interaction " in line]
        marker = "?cursor="
        cursor = body.split(marker)[1].split("&")[0].split('"')[0] if marker in body else None
    assert len(seen) == 45 and len(set(seen)) == 45
    assert cursor is None


def test_timeline_filter_by_kind(login, rep, customer):
    services.note_add(customer=customer, actor=rep, text="a note")
    services.record_interaction(customer=customer, kind="call", channel="phone", summary="a call")
    url = reverse("customers:detail", args=[customer.pk])
    body = (
        login(rep)
        .get(url, {"kind": "call"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline")
        .content.decode()
    )
    assert "a call" in body and "a note" not in body


def test_adding_a_note_with_htmx_returns_the_new_entry(login, rep, customer):
    response = login(rep).post(
        reverse("customers:note-add", args=[customer.pk]),
        {"text": "Called, no answer"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Called, no answer" in response.content.decode()
    assert customer.interactions.filter(kind="note", actor=rep).exists()


def test_an_empty_note_shows_the_error_on_the_form(login, rep, customer):
    response = login(rep).post(
        reverse("customers:note-add", args=[customer.pk]), {"text": "  "}, HTTP_HX_REQUEST="true"
    )
    assert "Write something before saving the note." in response.content.decode()
    assert response["HX-Retarget"] == "#note-form"


def test_reveal_button_shows_real_numbers_and_logs_the_access(login, rep, customer):
    response = login(rep).post(reverse("customers:reveal", args=[customer.pk]), HTTP_HX_REQUEST="true")
    assert "+886 912 345 678" in response.content.decode()
    assert AccessLog.objects.filter(user=rep, action="reveal", object_id=str(customer.pk)).exists()


def test_agent_cannot_reveal_contact_details(login, agent, customer):
    services.note_add(customer=customer, actor=agent, text="worked on")
    response = login(agent).post(reverse("customers:reveal", args=[customer.pk]))
    assert response.status_code == 403
    assert not AccessLog.objects.exists()


def test_creating_a_customer_with_a_bad_phone_keeps_the_form_and_saves_nothing(login, rep):
    response = login(rep).post(
        reverse("customers:create"),
        {"kind": "person", "name": "新客戶", "lifecycle_stage": "lead", "phones": "0912-345-678\n12345"},
    )
    assert response.status_code == 200
    assert "“12345” is not a valid phone number" in response.content.decode()
    assert not Customer.objects.exists()


def test_creating_a_customer_opens_its_360_page(login, rep):
    response = login(rep).post(
        reverse("customers:create"),
        {
            "kind": "person",
            "name": "新客戶",
            "lifecycle_stage": "lead",
            "phones": "+86 138 0013 8000",
            "tag_names": "VIP",
        },
    )
    customer = Customer.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:detail", args=[customer.pk]
    )
    assert customer.owner == rep and customer.contact_points.get().normalised == "+8613800138000"


def test_editing_a_customer_records_the_change(login, rep, customer):
    response = login(rep).post(
        reverse("customers:edit", args=[customer.pk]),
        {
            "kind": "person",
            "name": "王小明",
            "lifecycle_stage": "customer",
            "owner": rep.pk,
            "tag_names": "VIP",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "customer"
    assert customer.interactions.filter(summary__contains="Customer").exists()


def test_someone_elses_customer_is_not_found(login, other_rep, customer):
    client = login(other_rep)
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 404
    assert client.post(reverse("customers:note-add", args=[customer.pk]), {"text": "x"}).status_code == 404
    assert not customer.interactions.filter(kind="note").exists()


def test_agent_looks_up_a_caller_and_lands_on_the_profile(login, agent, customer):
    response = login(agent).get(reverse("customers:lookup"), {"number": "+886-912-345-678"})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])


def test_lookup_of_an_unknown_number_offers_a_new_customer(login, agent):
    body = login(agent).get(reverse("customers:lookup"), {"number": "0933-111-222"}).content.decode()
    assert "No customer has this number." in body and "phone=0933-111-222" in body


def test_lookup_of_garbage_explains_the_problem(login, agent):
    body = login(agent).get(reverse("customers:lookup"), {"number": "12"}).content.decode()
    assert "is not a valid phone number" in body


def test_custom_attributes_are_edited_as_name_value_lines(login, rep, customer):
    response = login(rep).post(
        reverse("customers:edit", args=[customer.pk]),
        {
            "kind": "person",
            "name": "王小明",
            "lifecycle_stage": "lead",
            "owner": rep.pk,
            "attributes": "birthday: 1988-05-02\nmember_level: gold",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.custom_attributes == {"birthday": "1988-05-02", "member_level": "gold"}
    body = login(rep).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "member_level" in body and "gold" in body


def test_malformed_custom_attribute_line_is_explained(login, rep, customer):
    response = login(rep).post(
        reverse("customers:edit", args=[customer.pk]),
        {"kind": "person", "name": "王小明", "lifecycle_stage": "lead", "attributes": "no separator here"},
    )
    assert response.status_code == 200
    assert "Line 1: write “name: value”." in response.content.decode()
