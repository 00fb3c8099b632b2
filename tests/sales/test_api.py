import pytest

from sales.models import Deal, Task

from .factories import CadenceFactory, TaskFactory, stage

pytestmark = pytest.mark.django_db


def post_json(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_deals_api_lists_only_visible_deals(login, rep, deal, hidden_deal):
    response = login(rep).get("/api/v1/deals/")
    assert response.status_code == 200
    assert [item["title"] for item in response.json()["results"]] == ["ERP rollout"]
    assert login(rep).get(f"/api/v1/deals/{hidden_deal.pk}/").status_code == 404


def test_deals_api_creates_and_moves_with_the_version(login, rep, customer):
    client = login(rep)
    created = post_json(
        client, "/api/v1/deals/", {"customer": customer.pk, "title": "API deal", "amount": "500"}
    )
    assert created.status_code == 201, created.json()
    deal_id, version = created.json()["id"], created.json()["version"]

    moved = post_json(
        client, f"/api/v1/deals/{deal_id}/move/", {"stage": stage("Proposal").pk, "version": version}
    )
    assert moved.status_code == 200 and moved.json()["stage_name"] == "Proposal"

    stale = post_json(
        client, f"/api/v1/deals/{deal_id}/move/", {"stage": stage("Won").pk, "version": version}
    )
    assert stale.status_code == 409
    assert (
        "nothing was saved" in stale.json()["detail"] and stale.json()["current"]["stage_name"] == "Proposal"
    )
    assert Deal.objects.get(pk=deal_id).stage == stage("Proposal")


def test_deals_api_validates_and_saves_nothing_on_bad_input(login, rep, customer, hidden_deal):
    response = post_json(
        login(rep), "/api/v1/deals/", {"customer": hidden_deal.customer_id, "title": "", "amount": "-1"}
    )
    assert response.status_code == 400 and {"customer", "title", "amount"} <= set(response.json())
    assert not Deal.objects.filter(title="").exists()


def test_agents_may_read_but_not_write_deals(login, agent, customer):
    client = login(agent)
    assert client.get("/api/v1/deals/").status_code == 200
    assert post_json(client, "/api/v1/deals/", {"customer": customer.pk, "title": "x"}).status_code == 403


def test_tasks_api_creates_lists_and_completes_with_the_cadence(login, rep, customer):
    client = login(rep)
    created = post_json(
        client,
        "/api/v1/tasks/",
        {"title": "Call back", "due_at": "2026-11-24T10:00:00+08:00", "customer": customer.pk},
    )
    assert created.status_code == 201, created.json()
    task = Task.objects.get(pk=created.json()["id"])
    task.cadence = CadenceFactory()
    task.save()

    assert [t["title"] for t in client.get("/api/v1/tasks/").json()["results"]] == ["Call back"]
    done = post_json(client, f"/api/v1/tasks/{task.pk}/complete/", {"outcome": "no_answer"})
    assert done.status_code == 200 and done.json()["outcome"] == "no_answer"
    assert Task.objects.get(previous=task).attempt == 2


def test_tasks_api_hides_other_peoples_tasks(login, rep, other_rep):
    hidden = TaskFactory(assignee=other_rep)
    client = login(rep)
    assert client.get(f"/api/v1/tasks/{hidden.pk}/").status_code == 404
    assert post_json(client, f"/api/v1/tasks/{hidden.pk}/complete/", {}).status_code == 404


def test_the_schema_describes_deals_and_tasks(login, rep):
    schema = login(rep).get("/api/schema/").content.decode()
    for path in (
        "/api/v1/deals/",
        "/api/v1/deals/{id}/move/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/complete/",
    ):
        assert path in schema
