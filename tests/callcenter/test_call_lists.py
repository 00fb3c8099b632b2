import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callcenter import services
from callcenter.models import CallList, CallListEntry, Disposition
from crm import roles
from customers.models import Interaction
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agents(team, agent):
    """Three agents with an extension in the manager's team."""
    return [
        agent,
        UserFactory(username="agent2", first_name="Bea", role=roles.AGENT, team=team, extension="102"),
        UserFactory(username="agent3", first_name="Cai", role=roles.AGENT, team=team, extension="103"),
    ]


@pytest.fixture
def outsider(other_team):
    return UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)


def make_list(manager, team, names, *, name="Spring follow-up"):
    """A list of new customers of the team, each with a phone, in the given order."""
    customers = [
        CustomerFactory(name=customer_name, team=team, phones=[f"0912-000-{index:03d}"])
        for index, customer_name in enumerate(names)
    ]
    call_list = CallList.objects.create(name=name, created_by=manager, team=team)
    CallListEntry.objects.bulk_create(
        CallListEntry(call_list=call_list, customer=customer, position=position)
        for position, customer in enumerate(customers, start=1)
    )
    return call_list


def names_on(call_list):
    return set(call_list.entries.values_list("customer__name", flat=True))


# Building a list


def test_a_manager_builds_a_list_from_a_name_search_with_exactly_the_visible_matches_with_a_phone(
    login, manager, team, rep, outsider
):
    CustomerFactory(name="陳大文", owner=rep, phones=["0912-111-111"])
    CustomerFactory(name="陳小美", team=team, phones=["0912-222-222"])
    CustomerFactory(name="陳無電話", owner=rep, emails=["chen@example.com"])
    CustomerFactory(name="陳外人", owner=outsider, phones=["0912-333-333"])
    CustomerFactory(name="王小明", owner=rep, phones=["0912-444-444"])

    response = login(manager).post(
        reverse("callcenter:call-list-create"), {"name": "陳 follow-up", "q": "陳", "list_team": team.pk}
    )

    call_list = CallList.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("callcenter:call-list-detail", args=[call_list.pk])
    assert names_on(call_list) == {"陳大文", "陳小美"}
    assert (call_list.team, call_list.created_by, call_list.status) == (team, manager, "open")
    assert call_list.filters == {"q": "陳", "owner": None, "team": None, "tag": None, "lifecycle": ""}
    assert sorted(call_list.entries.values_list("position", flat=True)) == [1, 2]
    assert not call_list.entries.exclude(state="pending").exists()


def test_a_phone_search_in_any_format_finds_only_the_customers_the_manager_can_see(
    manager, team, customer, outsider
):
    CustomerFactory(name="Same number, other team", owner=outsider, phones=["+886 912 345 678"])

    call_list, capped = services.call_list_create_from_search(
        actor=manager, name="Callbacks", q="886912345678", filters={}, team=team
    )

    assert names_on(call_list) == {"王小明"} and not capped


def test_the_create_page_counts_the_matches_live_before_creating(login, manager, rep):
    CustomerFactory(name="陳大文", owner=rep, phones=["0912-111-111"])
    CustomerFactory(name="陳小美", owner=rep, phones=["0912-222-222"])
    client = login(manager)

    page = client.get(reverse("callcenter:call-list-create"), {"q": "陳"}).content.decode()
    fragment = client.get(
        reverse("callcenter:call-list-create"), {"q": "陳大"}, HTTP_HX_TARGET="call-list-count", **HTMX
    ).content.decode()

    assert "2 customers with a phone number match." in page and 'value="陳"' in page
    assert fragment.strip().startswith('<div id="call-list-count"') and "<html" not in fragment
    assert "1 customer with a phone number matches." in fragment
    assert not CallList.objects.exists()


def test_a_search_over_the_cap_builds_the_first_customers_and_says_so(login, manager, team, rep, monkeypatch):
    monkeypatch.setattr(services, "CALL_LIST_MAX_ENTRIES", 2)
    for index in range(3):
        CustomerFactory(name=f"Lead {index}", owner=rep, phones=[f"0912-555-00{index}"])
    client = login(manager)

    preview = client.get(reverse("callcenter:call-list-create"), {"q": "Lead"}).content.decode()
    response = client.post(
        reverse("callcenter:call-list-create"),
        {"name": "Leads", "q": "Lead", "list_team": team.pk},
        follow=True,
    )

    assert "More than 2 customers with a phone number match" in preview
    body = response.content.decode()
    assert "created with 2 customers" in body
    assert "more than 2 customers with a phone number: the list holds the first 2" in body
    assert CallList.objects.get().entries.count() == 2


def test_bad_input_when_building_a_list_gets_clear_messages(login, manager, team, other_team, rep):
    CustomerFactory(name="陳大文", owner=rep, phones=["0912-111-111"])
    client = login(manager)
    url = reverse("callcenter:call-list-create")

    no_name = client.post(url, {"name": " ", "q": "陳", "list_team": team.pk}).content.decode()
    not_my_team = client.post(url, {"name": "X", "q": "陳", "list_team": other_team.pk}).content.decode()
    nothing_found = client.post(
        url, {"name": "X", "q": "nobody-at-all", "list_team": team.pk}
    ).content.decode()
    bad_tag = client.post(url, {"name": "X", "tag": "-1", "list_team": team.pk}).content.decode()

    assert "This field is required." in no_name
    assert "Select a valid choice." in not_my_team
    assert "No customer you can see matches this search and has a phone number." in nothing_found
    assert "Tag: Select a valid choice." in bad_tag
    assert not CallList.objects.exists()
    with pytest.raises(ValidationError) as excinfo:
        services.call_list_create_from_search(actor=manager, name="X", q="陳", filters={}, team=other_team)
    assert excinfo.value.message_dict == {"team": ["Choose one of your teams."]}


# Sharing out


def test_assignment_takes_turns_in_list_order_and_is_fair(login, manager, team, agents):
    call_list = make_list(manager, team, [f"Customer {n}" for n in range(1, 8)])

    response = login(manager).post(
        reverse("callcenter:call-list-assign", args=[call_list.pk]),
        {"agents": [a.pk for a in agents]},
        follow=True,
    )

    assert "7 customers shared between 3 agents." in response.content.decode()
    order = list(call_list.entries.order_by("position").values_list("assigned_to__username", flat=True))
    assert order == ["agent", "agent2", "agent3", "agent", "agent2", "agent3", "agent"]


def test_sharing_again_moves_only_customers_not_yet_called(manager, team, agents):
    call_list = make_list(manager, team, [f"Customer {n}" for n in range(1, 9)])
    first, second, third = agents
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents)
    calling = services.call_list_next(agent=first, call_list=call_list)
    services.call_list_entry_complete(
        agent=first, entry=calling, disposition=Disposition.objects.get(name="Resolved")
    )
    services.call_list_next(agent=second, call_list=call_list)

    shares = services.call_list_assign(actor=manager, call_list=call_list, agents=[third, first])

    assert shares == {first.pk: 3, third.pk: 3}
    pending = call_list.entries.filter(state="pending")
    assert sorted(pending.values_list("assigned_to__username", flat=True)) == ["agent"] * 3 + ["agent3"] * 3
    assert call_list.entries.get(state="done").assigned_to == first
    assert call_list.entries.get(state="in_progress").assigned_to == second


def test_only_active_agents_with_an_extension_in_the_managers_teams_can_be_assigned(
    login, manager, team, other_team, agents, rep
):
    call_list = make_list(manager, team, ["Customer"])
    elsewhere = UserFactory(username="far-agent", role=roles.AGENT, team=other_team, extension="900")

    for wrong in (elsewhere, rep):
        with pytest.raises(ValidationError, match="Not an active agent with an extension in your teams"):
            services.call_list_assign(actor=manager, call_list=call_list, agents=[wrong])
    response = login(manager).post(
        reverse("callcenter:call-list-assign", args=[call_list.pk]), {"agents": [elsewhere.pk]}, follow=True
    )
    assert "Choose agents from the list." in response.content.decode()
    response = login(manager).post(
        reverse("callcenter:call-list-assign", args=[call_list.pk]), {}, follow=True
    )
    assert "Choose at least one agent." in response.content.decode()
    assert not call_list.entries.filter(assigned_to__isnull=False).exists()


# Working a list


def test_next_customer_shows_the_customer_on_the_page_and_pops_the_card(
    login, listen, django_capture_on_commit_callbacks, manager, team, agent, rep, customer
):
    InteractionFactory.create_batch(3, customer=customer, channel="line", summary="LINE 訊息")
    call_list = CallList.objects.create(name="VIP check-in", created_by=manager, team=team)
    CallListEntry.objects.create(call_list=call_list, customer=customer, position=1, assigned_to=agent)
    browser = listen(agent)
    client = login(agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("callcenter:call-list-next", args=[call_list.pk]))

    assert response.status_code == 302
    name, card = browser.next()
    assert name == "call" and "VIP check-in" in card and "王小明" in card and "VIP" in card
    assert "+886 ••• ••• 678" in card and "+886912345678" not in card
    assert card.count('title="LINE 訊息"') == 3 and 'data-testid="list-wrap-up-form"' in card
    assert 'data-testid="list-card-dial"' in card, "an agent with an extension calls with one click"
    page = client.get(response["Location"]).content.decode()
    assert "王小明" in page and "+886 ••• ••• 678" in page and "LINE 訊息" in page
    assert 'name="disposition"' in page and 'value="skipped"' in page
    assert CallListEntry.objects.get().state == "in_progress"
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200, (
        "the agent may open the profile of the customer handed to them"
    )


def test_an_agent_finishes_the_customer_being_called_before_getting_another(manager, team, agents):
    call_list = make_list(manager, team, ["First", "Second"])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:1])

    first = services.call_list_next(agent=agents[0], call_list=call_list)
    again = services.call_list_next(agent=agents[0], call_list=call_list)

    assert first.pk == again.pk and first.customer.name == "First"
    assert call_list.entries.filter(state="in_progress").count() == 1


def test_completing_a_customer_writes_the_timeline_and_the_progress(login, manager, team, agents):
    call_list = make_list(manager, team, ["陳大文", "陳小美"], name="Spring promo")
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:2])
    agent = agents[0]
    entry = services.call_list_next(agent=agent, call_list=call_list)
    sale = Disposition.objects.get(name="Sale made")

    response = login(agent).post(
        reverse("callcenter:call-list-entry-complete", args=[entry.pk]),
        {"disposition": sale.pk, "note": "Wants the family plan\nCall back in May", "state": "done"},
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.state, entry.disposition, entry.attempts, entry.done_by) == ("done", sale, 1, agent)
    assert entry.note == "Wants the family plan\nCall back in May" and entry.last_attempt_at == entry.done_at
    timeline = dict(Interaction.objects.filter(customer=entry.customer).values_list("kind", "summary"))
    assert timeline == {"call": "Call list “Spring promo”: Sale made", "note": "Wants the family plan"}
    call = Interaction.objects.get(kind="call")
    assert (call.channel, call.actor, call.subject) == ("phone", agent, entry)
    detail = login(manager).get(reverse("callcenter:call-list-detail", args=[call_list.pk])).content.decode()
    assert "1 / 2 called (50%)" in detail
    index = login(manager).get(reverse("callcenter:call-lists")).content.decode()
    assert "1 / 2 called (50%)" in index and ">1/1<" in index and ">0/1<" in index
    mine = login(agent).get(reverse("callcenter:call-lists")).content.decode()
    assert "Spring promo" in mine and 'data-testid="my-finished">1<' in mine


def test_done_needs_a_disposition_skip_does_not(login, manager, team, agents):
    call_list = make_list(manager, team, ["First", "Second"])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:1])
    agent = agents[0]
    entry = services.call_list_next(agent=agent, call_list=call_list)
    url = reverse("callcenter:call-list-entry-complete", args=[entry.pk])
    client = login(agent)

    no_disposition = client.post(url, {"state": "done", "note": "keep this draft"})
    unknown = client.post(url, {"state": "done", "disposition": "99999"})
    skipped = client.post(url, {"state": "skipped"})
    twice = client.post(url, {"state": "skipped"})

    assert no_disposition.status_code == 400
    assert "Choose how the call went." in no_disposition.content.decode()
    assert "keep this draft" in no_disposition.content.decode()
    assert "Choose a disposition from the list." in unknown.content.decode()
    assert skipped.status_code == 302
    assert "This customer has already been wrapped up." in twice.content.decode()
    entry.refresh_from_db()
    assert (entry.state, entry.attempts) == ("skipped", 1)
    assert list(Interaction.objects.values_list("summary", flat=True)) == [
        "Call list “Spring follow-up”: skipped"
    ]


def test_the_pop_wraps_up_and_offers_the_next_customer(login, manager, team, agents):
    call_list = make_list(manager, team, ["First", "Second"])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:1])
    agent = agents[0]
    entry = services.call_list_next(agent=agent, call_list=call_list)
    client = login(agent)

    saved = client.post(
        reverse("callcenter:call-list-entry-complete", args=[entry.pk]),
        {"state": "done", "disposition": Disposition.objects.get(name="Resolved").pk},
        **HTMX,
    ).content.decode()
    following = client.post(
        reverse("callcenter:call-list-next", args=[call_list.pk]), **HTMX
    ).content.decode()
    services.call_list_entry_complete(
        agent=agent, entry=call_list.entries.get(state="in_progress"), state="skipped"
    )
    finished = client.post(reverse("callcenter:call-list-next", args=[call_list.pk]), **HTMX).content.decode()

    assert "Wrap-up saved." in saved and 'data-testid="list-card-next"' in saved
    assert "Second" in following and 'data-testid="list-wrap-up-form"' in following
    assert "Nobody is left for you to call on this list." in finished


def test_the_work_page_takes_and_wraps_up_customers_in_place(login, manager, team, agents):
    call_list = make_list(manager, team, ["First", "Second"])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:1])
    client = login(agents[0])
    in_place = {"HTTP_HX_TARGET": "work-area", **HTMX}

    taken = client.post(
        reverse("callcenter:call-list-next", args=[call_list.pk]), **in_place
    ).content.decode()
    entry = call_list.entries.get(state="in_progress")
    refused = client.post(
        reverse("callcenter:call-list-entry-complete", args=[entry.pk]), {"state": "done"}, **in_place
    )
    saved = client.post(
        reverse("callcenter:call-list-entry-complete", args=[entry.pk]), {"state": "skipped"}, **in_place
    ).content.decode()

    assert taken.strip().startswith('<div id="work-area"') and "<html" not in taken and "First" in taken
    assert refused.status_code == 200 and "Choose how the call went." in refused.content.decode()
    assert 'data-testid="work-notice"' in saved and 'data-testid="next-customer"' in saved
    assert "Skipped <strong>1</strong>" in saved


def test_team_agents_share_the_customers_nobody_was_handed(login, manager, team, other_team, agents):
    call_list = make_list(manager, team, ["First", "Second"])
    stranger = UserFactory(username="stranger", role=roles.AGENT, team=other_team, extension="990")

    taken = [services.call_list_next(agent=agent, call_list=call_list) for agent in agents[:2]]

    assert [entry.customer.name for entry in taken] == ["First", "Second"]
    assert [entry.assigned_to for entry in taken] == agents[:2]
    assert services.call_list_next(agent=agents[2], call_list=call_list) is None
    with pytest.raises(PermissionDenied):
        services.call_list_next(agent=stranger, call_list=call_list)
    assert login(stranger).get(reverse("callcenter:call-list-work", args=[call_list.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_customers_at_the_same_time_never_get_the_same_one(seed_data, team, manager):
    first = UserFactory(username="racer1", role=roles.AGENT, team=team, extension="201")
    second = UserFactory(username="racer2", role=roles.AGENT, team=team, extension="202")
    for index in range(30):
        CustomerFactory(name=f"Racer customer {index}", team=team, phones=[f"0912-600-{index:03d}"])
    call_list, _capped = services.call_list_create_from_search(
        actor=manager, name="Race", q="Racer customer", filters={}, team=team
    )
    start = threading.Barrier(2)
    taken = {first.pk: [], second.pk: []}
    failures = []

    def work(agent):
        try:
            start.wait(timeout=10)
            while (entry := services.call_list_next(agent=agent, call_list=call_list)) is not None:
                taken[agent.pk].append(entry.pk)
                services.call_list_entry_complete(agent=agent, entry=entry, state="skipped")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(agent,)) for agent in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures
    everything = taken[first.pk] + taken[second.pk]
    assert len(everything) == len(set(everything)) == 30, "each customer went to exactly one agent"
    assert set(CallListEntry.objects.values_list("state", flat=True)) == {"skipped"}
    for agent in (first, second):
        assert set(
            CallListEntry.objects.filter(pk__in=taken[agent.pk]).values_list("done_by", flat=True)
        ) <= {agent.pk}


# Permissions


def test_agents_cannot_touch_other_agents_customers_or_manager_pages(login, manager, team, agents):
    call_list = make_list(manager, team, ["First", "Second"])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:2])
    mine = services.call_list_next(agent=agents[0], call_list=call_list)
    intruder = login(agents[1])

    response = intruder.post(
        reverse("callcenter:call-list-entry-complete", args=[mine.pk]), {"state": "skipped"}
    )
    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        services.call_list_entry_complete(agent=agents[1], entry=mine, state="skipped")
    for name, method in [
        ("call-list-create", "get"),
        ("call-list-detail", "get"),
        ("call-list-close", "get"),
        ("call-list-close", "post"),
        ("call-list-assign", "post"),
    ]:
        args = [] if name == "call-list-create" else [call_list.pk]
        assert getattr(intruder, method)(reverse(f"callcenter:{name}", args=args)).status_code == 403, name
    with pytest.raises(PermissionDenied):
        services.call_list_assign(actor=agents[1], call_list=call_list, agents=agents[1:2])
    with pytest.raises(PermissionDenied):
        services.call_list_create_from_search(actor=agents[1], name="Mine", q="", filters={}, team=team)
    mine.refresh_from_db()
    assert (mine.state, mine.assigned_to) == ("in_progress", agents[0])
    assert CallList.objects.get().status == "open"


def test_a_manager_sees_only_the_lists_of_their_teams(login, manager, team, other_team):
    other_manager = UserFactory(username="manager-sh", role=roles.MANAGER, team=other_team)
    theirs = make_list(other_manager, other_team, ["Shanghai customer"], name="Shanghai list")
    make_list(manager, team, ["Taipei customer"], name="Taipei list")
    client = login(manager)

    index = client.get(reverse("callcenter:call-lists")).content.decode()

    assert "Taipei list" in index and "Shanghai list" not in index
    for name in ("call-list-detail", "call-list-close"):
        assert client.get(reverse(f"callcenter:{name}", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("callcenter:call-list-close", args=[theirs.pk])).status_code == 404
    assert CallList.objects.get(pk=theirs.pk).status == "open"


def test_closing_asks_first_then_stops_handing_out_customers(login, manager, team, agents):
    call_list = make_list(manager, team, ["First", "Second", "Third"])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:1])
    agent = agents[0]
    calling = services.call_list_next(agent=agent, call_list=call_list)
    client = login(manager)

    confirmation = client.get(reverse("callcenter:call-list-close", args=[call_list.pk])).content.decode()
    assert "2 customers have not been called yet." in confirmation
    assert CallList.objects.get().status == "open", "asking does not close"
    response = client.post(reverse("callcenter:call-list-close", args=[call_list.pk]), follow=True)

    assert "Call list “Spring follow-up” closed." in response.content.decode()
    assert CallList.objects.get().status == "closed"
    services.call_list_entry_complete(agent=agent, entry=calling, state="skipped")
    with pytest.raises(ValidationError, match="This list is closed"):
        services.call_list_next(agent=agent, call_list=call_list)
    page = login(agent).post(reverse("callcenter:call-list-next", args=[call_list.pk]), follow=True)
    assert "This list is closed" in page.content.decode()
    with pytest.raises(ValidationError, match="This list is closed"):
        services.call_list_assign(actor=manager, call_list=call_list, agents=agents)


# Pages


def test_the_pages_show_empty_states_and_the_nav_link(login, manager, agent, outsider):
    manager_page = login(manager).get(reverse("callcenter:call-lists")).content.decode()
    agent_page = login(agent).get(reverse("callcenter:call-lists")).content.decode()

    assert "No call lists yet." in manager_page and 'data-testid="nav-call-lists"' in manager_page
    assert "No customers to call for you yet." in agent_page and 'data-testid="nav-call-lists"' in agent_page
    assert 'data-testid="call-list-new"' not in agent_page


def test_the_managers_list_page_costs_the_same_queries_for_3_or_30_lists(login, manager, team, agents):
    client = login(manager)

    def queries_with(count):
        for number in range(CallList.objects.count(), count):
            call_list = make_list(manager, team, [f"L{number} a", f"L{number} b"], name=f"List {number}")
            services.call_list_assign(actor=manager, call_list=call_list, agents=agents[:2])
            services.call_list_next(agent=agents[0], call_list=call_list)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("callcenter:call-lists"))
        assert response.status_code == 200
        return len(captured), response.content.decode().count('data-testid="call-list-row"')

    few, rows_few = queries_with(3)
    many, rows_many = queries_with(30)

    assert (rows_few, rows_many) == (3, 25), "a page holds 25 lists"
    assert few == many


def test_the_detail_page_pages_through_long_lists_and_filters_by_state(login, manager, team, agents):
    call_list = make_list(manager, team, [f"Customer {n:02d}" for n in range(1, 61)])
    services.call_list_assign(actor=manager, call_list=call_list, agents=agents)
    client = login(manager)
    url = reverse("callcenter:call-list-detail", args=[call_list.pk])

    first = client.get(url).content.decode()
    second = client.get(url, {"page": 2}).content.decode()
    calling = client.get(url, {"state": "in_progress"}).content.decode()
    progress = client.get(url, HTTP_HX_TARGET="call-list-progress", **HTMX).content.decode()

    assert first.count('data-testid="call-list-entry"') == 50 and "Customer 50" in first
    assert second.count('data-testid="call-list-entry"') == 10 and "Customer 60" in second
    assert "No customer on this list matches the filter." in calling
    assert progress.strip().startswith('<div id="call-list-progress"') and "<html" not in progress
    assert progress.count('data-testid="agent-progress"') == 3
