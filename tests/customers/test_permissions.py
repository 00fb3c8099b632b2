import pytest
from guardian.shortcuts import assign_perm

from crm import roles
from crm.models import AccessLog
from customers import services
from customers.permissions import customers_visible_to
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def visible(user):
    return set(customers_visible_to(user).values_list("name", flat=True))


def test_rep_sees_own_and_shared_customers_but_not_a_colleagues(rep, other_rep):
    CustomerFactory(name="mine", owner=rep)
    colleague_customer = CustomerFactory(name="colleague's", owner=other_rep)
    CustomerFactory(name="shared with me", owner=other_rep)
    assign_perm(
        "customers.view_customer", rep, colleague_customer.__class__.objects.get(name="shared with me")
    )

    assert visible(rep) == {"mine", "shared with me"}


def test_rep_sees_team_customers_when_the_team_setting_is_on(rep, other_rep, settings):
    settings.CUSTOMERS_REPS_SEE_TEAM = True
    CustomerFactory(name="colleague's", owner=other_rep)
    assert visible(rep) == {"colleague's"}


def test_manager_sees_the_whole_team_and_nothing_of_other_teams(manager, rep, other_team):
    CustomerFactory(name="team customer", owner=rep)
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    CustomerFactory(name="other team's", owner=outsider)

    assert visible(manager) == {"team customer"}


def test_admin_sees_everyone(admin_user, rep, other_team):
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    CustomerFactory(name="a", owner=rep)
    CustomerFactory(name="b", owner=outsider)
    CustomerFactory(name="unowned")
    assert visible(admin_user) == {"a", "b", "unowned"}


def test_agent_sees_a_caller_only_after_an_exact_phone_lookup(agent, rep):
    CustomerFactory(name="caller", owner=rep, phones=["0912-345-678"])
    CustomerFactory(name="someone else", owner=rep, phones=["0922-000-111"])
    assert visible(agent) == set()

    found = services.phone_lookup(user=agent, number="+886 912 345 678")

    assert [c.name for c in found] == ["caller"]
    assert visible(agent) == {"caller"}


def test_agent_keeps_access_to_customers_they_worked_on(agent, rep):
    customer = CustomerFactory(name="worked on", owner=rep)
    services.note_add(customer=customer, actor=agent, text="Called back")
    assert visible(agent) == {"worked on"}


def test_rep_phone_lookup_does_not_reveal_customers_they_may_not_see(rep, other_rep):
    CustomerFactory(name="not mine", owner=other_rep, phones=["0912-345-678"])
    assert services.phone_lookup(user=rep, number="0912345678") == []


def test_user_without_a_role_or_inactive_sees_nothing(team, rep):
    CustomerFactory(name="x", owner=rep)
    nobody = UserFactory(username="nobody", team=team)
    rep.is_active = False
    rep.save()
    assert visible(nobody) == set()
    assert visible(rep) == set()


def test_sharing_with_a_group_makes_the_customer_visible_to_its_members(rep, other_rep):
    from django.contrib.auth.models import Group

    customer = CustomerFactory(name="group shared", owner=other_rep)
    group = Group.objects.create(name="Key accounts")
    rep.groups.add(group)
    assign_perm("customers.view_customer", group, customer)
    assert "group shared" in visible(rep)


def test_revealing_contacts_requires_the_permission_and_writes_an_access_log(agent, rep, customer):
    services.note_add(customer=customer, actor=agent, text="so the agent can see it")
    with pytest.raises(services.PermissionDenied):
        services.contact_details_reveal(customer=customer, user=agent, ip_address="127.0.0.1")

    shown = services.contact_details_reveal(customer=customer, user=rep, ip_address="10.0.0.5")

    assert {item["value"] for item in shown} == {"+886 912 345 678", "wang@example.com"}
    log = AccessLog.objects.get()
    assert (log.user, log.action, log.object_id, log.count, log.ip_address) == (
        rep,
        "reveal",
        str(customer.pk),
        2,
        "10.0.0.5",
    )


def test_sharing_requires_the_share_permission(rep, manager, customer, other_team):
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    with pytest.raises(services.PermissionDenied):
        services.customer_share(customer=customer, user=outsider, actor=rep)
    services.customer_share(customer=customer, user=outsider, actor=manager)
    assert visible(outsider) == {customer.name}
    services.customer_share(customer=customer, user=outsider, actor=manager, revoke=True)
    assert visible(outsider) == set()


def test_role_groups_exist_with_the_exact_names():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"Agent", "Sales rep", "Manager", "Admin"}
    assert Group.objects.get(name="Sales rep").permissions.filter(codename="view_contact_details").exists()
    assert not Group.objects.get(name="Agent").permissions.filter(codename="view_contact_details").exists()
