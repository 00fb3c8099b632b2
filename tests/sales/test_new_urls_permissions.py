"""Who may open the leads, orders and assignment-rule pages: the permission matrix, and the rules UI."""

import pytest

from crm import roles
from sales import orders
from sales.models import AssignmentLog, AssignmentRule
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

# (url, {role: expected status}); "{order}" / "{rule}" are filled in.
MATRIX = [
    ("/sales/leads/", {roles.AGENT: 200, roles.SALES_REP: 200, roles.MANAGER: 200, roles.ADMIN: 200}),
    ("/sales/orders/", {roles.AGENT: 200, roles.SALES_REP: 200, roles.MANAGER: 200, roles.ADMIN: 200}),
    (
        "/sales/orders/{order}/",
        {roles.AGENT: 404, roles.SALES_REP: 200, roles.MANAGER: 200, roles.ADMIN: 200},
    ),
    ("/sales/orders/import/", {roles.AGENT: 403, roles.SALES_REP: 403, roles.MANAGER: 200, roles.ADMIN: 200}),
    (
        "/sales/settings/assignment/",
        {roles.AGENT: 403, roles.SALES_REP: 403, roles.MANAGER: 403, roles.ADMIN: 200},
    ),
    (
        "/sales/settings/assignment/new/",
        {roles.AGENT: 403, roles.SALES_REP: 403, roles.MANAGER: 403, roles.ADMIN: 200},
    ),
    (
        "/sales/settings/assignment/{rule}/",
        {roles.AGENT: 403, roles.SALES_REP: 403, roles.MANAGER: 403, roles.ADMIN: 200},
    ),
    (
        "/sales/settings/assignment/log/",
        {roles.AGENT: 403, roles.SALES_REP: 403, roles.MANAGER: 403, roles.ADMIN: 200},
    ),
    ("/api/v1/orders/", {roles.AGENT: 200, roles.SALES_REP: 200, roles.MANAGER: 200, roles.ADMIN: 200}),
    (
        "/api/v1/orders/{order}/",
        {roles.AGENT: 404, roles.SALES_REP: 200, roles.MANAGER: 200, roles.ADMIN: 200},
    ),
]


@pytest.mark.parametrize("url,expected", MATRIX)
def test_every_role_gets_what_it_may_see_on_the_new_pages(
    login, users, customer, team, url, expected, client
):
    order, _created = orders.order_create(actor=None, number="M-1", customer=customer, amount=10)
    rule = AssignmentRule.objects.create(name="All", team=team)
    url = url.format(order=order.pk, rule=rule.pk)
    for role, status in expected.items():
        assert login(users[role]).get(url).status_code == status, f"{role} GET {url}"
    anonymous = client.get(url)
    assert anonymous.status_code in (302, 401, 403)


@pytest.mark.parametrize(
    "path", ["/sales/settings/assignment/{rule}/delete/", "/sales/settings/assignment/{rule}/move/"]
)
def test_only_admins_may_change_rules(login, users, team, path):
    rule = AssignmentRule.objects.create(name="All", team=team)
    for role in (roles.AGENT, roles.SALES_REP, roles.MANAGER):
        assert login(users[role]).post(path.format(rule=rule.pk), {"direction": "up"}).status_code == 403
    assert AssignmentRule.objects.filter(pk=rule.pk).exists()


def test_an_admin_creates_reorders_and_deletes_rules_with_clear_errors(login, admin_user, team, rep):
    client = login(admin_user)
    bad = client.post(
        "/sales/settings/assignment/new/",
        {
            "name": "By source",
            "position": 10,
            "applies_to": "both",
            "condition": "source",
            "strategy": "fixed",
        },
    )
    assert bad.status_code == 200 and not AssignmentRule.objects.exists()
    body = bad.content.decode()
    assert "Enter the source or phone area" in body and "Choose who gets the leads" in body
    for name, position in (("First", 10), ("Second", 20)):
        response = client.post(
            "/sales/settings/assignment/new/",
            {
                "name": name,
                "position": position,
                "enabled": "on",
                "applies_to": "both",
                "condition": "any",
                "strategy": "round_robin",
                "team": team.pk,
            },
        )
        assert response.status_code == 302
    second = AssignmentRule.objects.get(name="Second")
    client.post(f"/sales/settings/assignment/{second.pk}/move/", {"direction": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    listing = client.get("/sales/settings/assignment/").content.decode()
    assert listing.index(">Second</a>") < listing.index(">First</a>")
    client.post(f"/sales/settings/assignment/{second.pk}/delete/")
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["First"]


def test_the_assignment_log_shows_who_got_what_by_which_rule(login, admin_user, team, rep):
    from sales.assignment import assignment_apply

    AssignmentRule.objects.create(name="Taipei round robin", team=team)
    lead = CustomerFactory(name="新的潛在客戶")
    assignment_apply(customer=lead, actor=admin_user)
    assert AssignmentLog.objects.count() == 1
    body = login(admin_user).get("/sales/settings/assignment/log/").content.decode()
    assert "新的潛在客戶" in body and "Taipei round robin" in body and str(rep) in body
