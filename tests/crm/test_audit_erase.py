"""The admin's audit page names data-subject erasures and filters on them."""

import pytest
from django.urls import reverse

from crm.models import AccessLog
from customers import privacy

pytestmark = pytest.mark.django_db


def test_audit_page_shows_an_erasure_as_erase_and_filters_on_it(login, admin_user, customer):
    privacy.customer_erase(
        actor=admin_user, customer=customer, reason="Customer asked by phone on 2026-11-20"
    )
    client = login(admin_user)

    response = client.get(reverse("manage:audit"), {"tab": "access", "action": "erase"})

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row.action, row.user) for row in rows] == [("erase", admin_user)]
    assert rows[0].get_action_display() == "Erase"
    assert AccessLog.Action("erase").label == "Erase"
    assert 'text-bg-danger">Erase</span>' in response.content.decode()
