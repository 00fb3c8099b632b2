"""Walk every URL pattern as every role and as an anonymous visitor: no leak, no server error."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from crm import roles
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

PUBLIC = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "set-language",
    "media",  # social inbox: an image by signed link (LINE fetches what we send from there)
    "link",  # social inbox: LINE account link, opened by a customer with a signed, expiring link
    # Provider webhooks: anyone may call them, the LINE/WeChat signature on the body is the check.
    "webhook-line",
    "webhook-wechat",
    "csat",  # the satisfaction survey: customers answer through a signed, expiring link without login
    "quote-public",  # a customer's signed link to one quote version: bad tokens get 404
    "webhook-wecom",
}
SKIP_PREFIXES = ("django-admin/",)  # Django's own admin checks is_staff; none of our roles is staff.
# Live event streams never end; tests/callcenter/test_screen_pop.py covers who may open them.
STREAMS = {"stream"}


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def fill(route, values):
    """Turn a route like customers/<int:pk>/ or ^api/...(?P<pk>[^/.]+)/$ into a concrete path."""
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values.get(m.group(1), "1")), route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), "1")), route)
    route = re.sub(r"\.\?\??|\?", "", route)
    return "/" + route


def body_of(response):
    return response.content.decode(errors="replace")


def all_routes():
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith(SKIP_PREFIXES) or "format" in route or name in STREAMS:
            continue
        yield route, name


@pytest.fixture
def hidden_customer(other_team):
    """A customer of another team, owned by someone else: only admins may see it."""
    owner = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    return CustomerFactory(
        name="秘密客戶 Hidden", owner=owner, phones=["0987-654-321"], emails=["hidden@example.com"]
    )


def test_anonymous_visitors_reach_only_public_pages(client, hidden_customer):
    values = {"pk": hidden_customer.pk, "contact_pk": hidden_customer.contact_points.first().pk}
    for route, name in all_routes():
        url = fill(route, values)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code < 500, f"{method.upper()} {url} -> {response.status_code}"
            if name not in PUBLIC:
                assert response.status_code in (302, 401, 403, 404, 405), f"{method.upper()} {url} is open"
                if response.status_code == 302:
                    assert "/accounts/login/" in response["Location"], (
                        f"{url} redirects to {response['Location']}"
                    )
            assert "Hidden" not in body_of(response), f"{url} leaks the customer"


@pytest.mark.parametrize("role", [roles.AGENT, roles.SALES_REP, roles.MANAGER, roles.ADMIN])
def test_every_role_walks_every_url_without_errors_or_leaks(login, users, role, hidden_customer):
    user = users[role]
    client = login(user)
    values = {"pk": hidden_customer.pk, "contact_pk": hidden_customer.contact_points.first().pk}
    for route, name in all_routes():
        if name == "logout":
            continue
        url = fill(route, values)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code < 500, f"{role}: {method.upper()} {url} -> {response.status_code}"
            body = body_of(response)
            if role != roles.ADMIN:
                assert "Hidden" not in body, f"{role}: {method.upper()} {url} leaks the hidden customer"
                assert "987 654" not in body and "hidden@example.com" not in body, (
                    f"{role}: {url} leaks contacts"
                )
    own = CustomerFactory(name="Own customer", owner=user, phones=["0911-111-111"])
    values = {"pk": own.pk, "contact_pk": own.contact_points.first().pk}
    for route, name in all_routes():
        if name == "logout":
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(fill(route, values))
            body_of(response)
            assert response.status_code < 500, f"{role}: {method.upper()} {route} on own customer -> 500"
    if role != roles.ADMIN:
        assert not hidden_customer.interactions.exists(), f"{role} wrote to a customer they cannot see"


HOSTILE = {
    "q": "\x00' OR 1=1 --",
    "page": "-7",
    "cursor": "eyJub3QiOiAiYSBsaXN0In0",
    "kind": "x" * 500,
    "channel": "<script>",
    "sort": "password",
    "owner": "abc",
    "team": "999999999999999999999",
    "tag": "-1",
    "lifecycle": "\x00",
    "number": "+886\x00",
    "phone": "9" * 100,
    "name": "\x00",
    "text": "\x00",
    "value": "\x00",
    "phones": "\x00",
    "emails": "@@@",
    "attributes": ":::",
    "language": "xx",
    "user": "abc",
    "purpose": "nope",
    "granted": "maybe",
    "reason": "\x00",
    "confirm": "yes",
    "keep": "\x00",
    "status": "\x00",
    "field_name": "c",
}


def test_hostile_input_never_causes_a_server_error(login, admin_user):
    client = login(admin_user)
    own = CustomerFactory(name="Own customer", owner=admin_user, phones=["0911-111-111"])
    values = {"pk": own.pk, "contact_pk": own.contact_points.first().pk}
    for route, name in all_routes():
        if name == "logout":
            continue
        url = fill(route, values)
        for method in ("get", "post"):
            response = getattr(client, method)(url, HOSTILE)
            body_of(response)
            assert response.status_code < 500, f"{method.upper()} {url} with hostile input"
