"""The admin area: an admin invites, changes and deactivates users, builds teams and reads the audit trail."""

import re
import smtplib

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import roles, services
from crm.manage_urls import urlpatterns as manage_patterns
from crm.models import AccessLog, Team, User
from customers import services as customer_services
from customers.models import Customer
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"


def invite_data(**overrides):
    data = {
        "username": "mei",
        "email": "mei@example.com",
        "first_name": "Mei",
        "last_name": "Lin",
        "role": roles.SALES_REP,
        "team": "",
        "extension": "",
        "language": "",
    }
    return {**data, **overrides}


def edit_data(user, **overrides):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": roles.user_role(user) or "",
        "team": user.team_id or "",
        "extension": user.extension,
        "language": user.language,
        "timezone": user.timezone,
    }
    return {**data, **overrides}


def field_errors(response, field):
    return response.context["form"].errors.get(field, [])


def manage_urls(pk):
    for pattern in manage_patterns:
        kwargs = {"pk": pk} if "<int:pk>" in str(pattern.pattern) else {}
        yield reverse(f"manage:{pattern.name}", kwargs=kwargs)


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


# Inviting


def test_admin_invites_a_user_who_sets_a_password_from_the_mail_and_signs_in(login, admin_user, team):
    response = login(admin_user).post(
        reverse("manage:user-invite"),
        invite_data(team=team.pk, extension="205", language="zh-hant"),
        follow=True,
    )

    assert "Mei Lin is invited" in response.content.decode()
    mei = User.objects.get(username="mei")
    assert mei.is_active and not mei.has_usable_password()
    assert (mei.team, mei.extension, mei.language, roles.user_role(mei)) == (
        team,
        "205",
        "zh-hant",
        roles.SALES_REP,
    )
    (message,) = mail.outbox
    assert message.to == ["mei@example.com"]
    link = re.search(r"http://testserver/accounts/reset/\S+/", message.body).group(0)

    visitor = Client()
    form_page = visitor.get(link, follow=True)
    assert form_page.context["validlink"]
    set_password_url = form_page.redirect_chain[-1][0]
    done = visitor.post(
        set_password_url, {"new_password1": "Taipei-101-view", "new_password2": "Taipei-101-view"}
    )
    assert done.status_code == 302

    assert Client().login(username="mei", password="Taipei-101-view")
    assert Client().get(link, follow=True).context["validlink"] is False, "the link works only once"


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"username": "REP"}, "username", "is taken"),
        ({"email": "Rep@Example.com"}, "email", "already uses the e-mail address"),
        ({"extension": "101"}, "extension", "Extension 101 belongs to"),
        ({"email": ""}, "email", "Enter an e-mail address"),
        ({"username": "has space"}, "username", "Enter a valid username"),
    ],
)
def test_invite_is_refused_with_a_message_on_the_field_and_nothing_is_created(
    login, admin_user, rep, agent, overrides, field, text
):
    users_before = User.objects.count()

    response = login(admin_user).post(reverse("manage:user-invite"), invite_data(**overrides))

    assert response.status_code == 200
    assert any(text in error for error in field_errors(response, field)), field_errors(response, field)
    assert f'data-field-error="{field}"' in response.content.decode()
    assert User.objects.count() == users_before
    assert mail.outbox == []


def test_an_extension_held_only_by_a_deactivated_user_can_be_given_again(login, admin_user, agent):
    services.user_set_active(actor=admin_user, user=agent, active=False)

    login(admin_user).post(reverse("manage:user-invite"), invite_data(extension="101"))

    assert User.objects.get(username="mei").extension == "101"


def test_when_the_invitation_cannot_be_mailed_no_user_is_left_behind(login, admin_user, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("mail server went away")

    monkeypatch.setattr(services, "send_mail", refuse)

    response = login(admin_user).post(reverse("manage:user-invite"), invite_data())

    assert "could not be sent" in response.content.decode()
    assert not User.objects.filter(username="mei").exists()


def test_admin_resends_the_set_password_link(login, admin_user, rep):
    response = login(admin_user).post(reverse("manage:user-resend-invite", args=[rep.pk]), follow=True)

    assert "A new link to set a password was sent" in response.content.decode()
    assert mail.outbox[0].to == [rep.email] and "/accounts/reset/" in mail.outbox[0].body


# Editing and deactivating


def test_admin_changes_role_team_extension_and_language(login, admin_user, agent, other_team):
    client = login(admin_user)
    page = client.get(reverse("manage:user-edit", args=[agent.pk]))
    assert page.context["form"]["role"].value() == roles.AGENT

    response = client.post(
        reverse("manage:user-edit", args=[agent.pk]),
        edit_data(
            agent,
            role=roles.MANAGER,
            team=other_team.pk,
            extension="305",
            language="zh-hans",
            timezone="Asia/Shanghai",
        ),
    )

    assert response.status_code == 302
    agent = User.objects.get(pk=agent.pk)
    assert roles.user_role(agent) == roles.MANAGER
    assert list(agent.groups.values_list("name", flat=True)) == [roles.MANAGER]
    assert (agent.team, agent.extension, agent.language, agent.timezone) == (
        other_team,
        "305",
        "zh-hans",
        "Asia/Shanghai",
    )
    assert LogEntry.objects.get_for_object(agent).filter(actor=admin_user).exists()


def test_editing_refuses_an_e_mail_address_another_user_has(login, admin_user, agent, rep):
    response = login(admin_user).post(
        reverse("manage:user-edit", args=[agent.pk]), edit_data(agent, email=rep.email)
    )

    assert "already uses the e-mail address" in field_errors(response, "email")[0]
    assert User.objects.get(pk=agent.pk).email == agent.email


def test_admin_cannot_take_away_their_own_admin_role(login, admin_user):
    response = login(admin_user).post(
        reverse("manage:user-edit", args=[admin_user.pk]),
        edit_data(admin_user, role=roles.AGENT, first_name="X"),
    )

    assert "own Admin role" in field_errors(response, "role")[0]
    admin_user.refresh_from_db()
    assert roles.is_admin(admin_user) and admin_user.first_name != "X"


def test_deactivation_asks_first_then_the_user_cannot_sign_in(login, admin_user, rep, customer):
    rep_session = login(rep)
    client = login(admin_user)
    url = reverse("manage:user-deactivate", args=[rep.pk])

    confirm = client.get(url)
    assert "Deactivate" in confirm.content.decode() and User.objects.get(pk=rep.pk).is_active

    response = client.post(url, follow=True)

    assert "can no longer sign in" in response.content.decode()
    assert not User.objects.get(pk=rep.pk).is_active
    assert not Client().login(username="rep", password=PASSWORD)
    refused = Client().post(reverse("login"), {"username": "rep", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session
    assert "/accounts/login/" in rep_session.get(reverse("customers:list"))["Location"], (
        "the open session ends"
    )
    assert Customer.objects.filter(pk=customer.pk, owner__is_active=True).exists(), (
        "nothing of theirs is deleted; their customers go to an active owner (sales.assignment)"
    )

    client.post(reverse("manage:user-activate", args=[rep.pk]))
    assert Client().login(username="rep", password=PASSWORD)


def test_admin_cannot_deactivate_themselves(login, admin_user):
    response = login(admin_user).post(reverse("manage:user-deactivate", args=[admin_user.pk]), follow=True)

    assert "You cannot deactivate your own account" in response.content.decode()
    assert User.objects.get(pk=admin_user.pk).is_active


def test_reactivation_is_refused_while_someone_else_holds_the_extension(login, admin_user, agent):
    services.user_set_active(actor=admin_user, user=agent, active=False)
    UserFactory(username="new-agent", role=roles.AGENT, extension="101")

    response = login(admin_user).post(reverse("manage:user-activate", args=[agent.pk]), follow=True)

    assert "Extension 101 belongs to" in response.content.decode()
    assert not User.objects.get(pk=agent.pk).is_active


# Users page


def test_users_page_lists_searches_and_filters(login, admin_user, agent, rep, manager, other_team):
    outsider = UserFactory(username="outsider", role=roles.AGENT, team=other_team, extension="909")
    services.user_set_active(actor=admin_user, user=rep, active=False)
    client = login(admin_user)

    def listed(**params):
        response = client.get(reverse("manage:users"), params)
        return {user.username for user in response.context["users"]}

    assert listed() == {"admin", "agent", "rep", "manager", "outsider"}
    assert listed(q="909") == {"outsider"}
    assert listed(role=roles.AGENT) == {"agent", "outsider"}
    assert listed(team=other_team.pk) == {"outsider"}
    assert listed(status="inactive") == {"rep"}
    assert listed(status="active", role=roles.SALES_REP) == set()
    body = client.get(reverse("manage:users"), {"q": "nobody-like-this"}).content.decode()
    assert "No user matches these filters." in body
    assert outsider.email in client.get(reverse("manage:users")).content.decode()
    fragment = client.get(
        reverse("manage:users"), {"q": "909"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="user-table"
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="user-table"') and "outsider" in fragment


def test_users_page_costs_the_same_queries_for_5_or_30_users(login, admin_user, team, other_team):
    client = login(admin_user)
    for index in range(4):
        UserFactory(role=roles.AGENT, team=team, extension=f"1{index:02d}")
    few = count_queries(client, reverse("manage:users"))
    for index in range(25):
        UserFactory(role=roles.SALES_REP, team=other_team if index % 2 else team, extension=f"2{index:02d}")
    assert User.objects.count() == 30
    assert count_queries(client, reverse("manage:users")) == few


# Teams


def test_admin_creates_a_team_with_a_manager_and_members(login, admin_user, agent, rep, manager):
    response = login(admin_user).post(
        reverse("manage:team-create"),
        {"name": "Kaohsiung support", "manager": manager.pk, "members": [agent.pk, rep.pk]},
    )

    assert response.status_code == 302
    team = Team.objects.get(name="Kaohsiung support")
    assert team.manager == manager
    assert set(team.members.all()) == {agent, rep}
    listing = login(admin_user).get(reverse("manage:teams"))
    counts = {row.name: row.member_count for row in listing.context["teams"]}
    assert counts["Kaohsiung support"] == 2


def test_editing_a_team_moves_members_in_and_out(login, admin_user, team, agent, rep, other_team):
    newcomer = UserFactory(username="newcomer", role=roles.AGENT, team=other_team)

    login(admin_user).post(
        reverse("manage:team-edit", args=[team.pk]),
        {"name": "Taipei sales", "manager": "", "members": [rep.pk, newcomer.pk, admin_user.pk]},
    )

    assert set(team.members.all()) == {rep, newcomer, admin_user}
    assert User.objects.get(pk=agent.pk).team is None
    assert Team.objects.get(pk=team.pk).manager is None


def test_team_names_are_unique_whatever_the_case(login, admin_user, team):
    response = login(admin_user).post(reverse("manage:team-create"), {"name": "TAIPEI SALES", "members": []})

    assert "There is already a team called" in field_errors(response, "name")[0]
    assert Team.objects.count() == 1


# Audit


def test_audit_page_shows_a_change_to_a_customer_and_who_made_it(login, admin_user, rep):
    with set_actor(rep):
        customer = customer_services.customer_create(actor=rep, name="陳大文")
        customer_services.customer_update(customer=customer, actor=rep, lifecycle_stage="customer")
    client = login(admin_user)

    response = client.get(reverse("manage:audit"))

    body = response.content.decode()
    assert "陳大文" in body
    entry = next(e for e in response.context["entries"] if e.object_repr == "陳大文" and e.action == 1)
    assert entry.actor == rep
    assert {"label": "lifecycle stage", "old": "Lead", "new": "Customer"} in entry.change_rows
    customer_type = ContentType.objects.get_for_model(Customer)
    filtered = client.get(reverse("manage:audit"), {"content_type": customer_type.pk, "actor": rep.pk})
    assert {e.content_type_id for e in filtered.context["entries"]} == {customer_type.pk}
    assert client.get(reverse("manage:audit"), {"actor": admin_user.pk}).context["entries"] == []


def test_audit_page_shows_who_revealed_and_who_exported(login, admin_user, manager, rep, customer):
    customer_services.contact_details_reveal(customer=customer, user=manager, ip_address="10.0.0.7")
    AccessLog.objects.create(
        user=rep,
        action=AccessLog.Action.EXPORT,
        content_type=ContentType.objects.get_for_model(Customer),
        count=120,
        filters={"tag": "VIP"},
    )
    client = login(admin_user)

    response = client.get(reverse("manage:audit"), {"tab": "access"})

    body = response.content.decode()
    assert "10.0.0.7" in body and "王小明" in body and "120" in body and "VIP" in body
    exports = client.get(reverse("manage:audit"), {"tab": "access", "action": "export"}).context["rows"]
    assert [(row.user, row.count) for row in exports] == [(rep, 120)]
    by_manager = client.get(reverse("manage:audit"), {"tab": "access", "user": manager.pk}).context["rows"]
    assert [row.action for row in by_manager] == ["reveal"]


def test_audit_pages_cost_the_same_queries_for_few_or_many_entries(login, admin_user, rep, team):
    client = login(admin_user)

    def make(count):
        for index in range(count):
            with set_actor(rep):
                customer = customer_services.customer_create(actor=rep, name=f"Customer {index}", owner=rep)
                customer_services.customer_update(customer=customer, actor=rep, team=team, owner=admin_user)
            AccessLog.objects.create(
                user=rep,
                action=AccessLog.Action.REVEAL,
                content_type=ContentType.objects.get_for_model(Customer),
                object_id=str(customer.pk),
            )

    make(2)
    changes, access = (
        count_queries(client, reverse("manage:audit")),
        count_queries(client, reverse("manage:audit"), {"tab": "access"}),
    )
    make(20)
    assert count_queries(client, reverse("manage:audit")) == changes
    assert count_queries(client, reverse("manage:audit"), {"tab": "access"}) == access


# Who gets in


@pytest.mark.parametrize("role", [roles.AGENT, roles.SALES_REP, roles.MANAGER])
def test_other_roles_get_403_on_every_manage_page(login, users, role):
    client = login(users[role])
    target = users[roles.AGENT]
    team_before = target.team_id

    for url in manage_urls(target.pk):
        for method in ("get", "post"):
            response = getattr(client, method)(url, {"role": roles.ADMIN, "name": "Hijacked", "members": []})
            assert response.status_code == 403, f"{role}: {method.upper()} {url} -> {response.status_code}"

    target.refresh_from_db()
    assert target.is_active and target.team_id == team_before
    assert not Team.objects.filter(name="Hijacked").exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client, agent):
    for url in manage_urls(agent.pk):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, f"{method.upper()} {url}"
            assert response["Location"].startswith(f"{reverse('login')}?next="), response["Location"]


def test_services_refuse_anyone_but_an_admin(manager, agent, team):
    with pytest.raises(PermissionDenied):
        services.user_set_active(actor=manager, user=agent, active=False)
    with pytest.raises(PermissionDenied):
        services.team_save(actor=manager, name="Mine now", members=[agent])
    with pytest.raises(PermissionDenied):
        services.user_invite(
            actor=manager, username="x", email="x@example.com", role=roles.ADMIN, absolute_url=str
        )
    assert (
        User.objects.get(pk=agent.pk).is_active and not Group.objects.get(name=roles.ADMIN).user_set.exists()
    )


def test_the_sub_navigation_links_the_three_sections(login, admin_user):
    body = login(admin_user).get(reverse("manage:teams")).content.decode()

    for name in ("manage:users", "manage:teams", "manage:audit"):
        assert f'href="{reverse(name)}"' in body


def test_teams_page_has_an_empty_state(login, admin_user):
    Team.objects.all().delete()
    body = login(admin_user).get(reverse("manage:teams")).content.decode()

    assert "No teams yet" in body


def test_team_factory_teams_show_their_member_counts(login, admin_user):
    crowded = TeamFactory(name="Crowded")
    for _index in range(3):
        UserFactory(team=crowded)

    body = login(admin_user).get(reverse("manage:teams")).content.decode()

    assert re.search(r"Crowded</a></td>\s*<td>—</td>\s*<td class=\"text-end\">3", body)
