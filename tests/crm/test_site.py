import datetime as dt

import pytest
from django.urls import reverse

from customers import services

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_a_broken_broker_without_failing(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == "error"


def test_login_page_then_customer_list(client, rep):
    response = client.post(reverse("login"), {"username": "rep", "password": "pass-word-123"})
    assert response.status_code == 302 and response["Location"] == reverse("customers:list")
    assert client.get(reverse("customers:list")).status_code == 200


def test_wrong_password_shows_an_error(client, rep):
    response = client.post(reverse("login"), {"username": "rep", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_choosing_traditional_chinese_translates_the_pages_and_is_remembered(login, rep):
    client = login(rep)
    response = client.post(reverse("set-language"), {"language": "zh-hant", "next": "/customers/"})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    rep.refresh_from_db()
    assert rep.language == "zh-hant"

    other_browser = login(rep)
    body = other_browser.get(reverse("customers:list")).content.decode()
    assert 'lang="zh-hant"' in body
    assert "客戶" in body


def test_simplified_chinese_is_available(login, rep):
    client = login(rep)
    client.post(reverse("set-language"), {"language": "zh-hans"})
    assert "客户" in client.get(reverse("customers:list")).content.decode()


def test_language_switch_refuses_to_redirect_off_site(login, rep):
    response = login(rep).post(reverse("set-language"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_times_are_stored_in_utc_and_shown_in_taipei_time(login, rep, customer):
    when = dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.UTC)
    services.record_interaction(
        customer=customer, kind="call", channel="phone", summary="Early call", occurred_at=when
    )
    body = login(rep).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "2026-11-23 09:30" in body
