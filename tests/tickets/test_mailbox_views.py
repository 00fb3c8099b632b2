"""Admins set up support mailboxes: the password is stored encrypted and never shown again, "test
connection" talks to the (fake) IMAP server, and nobody else may open these pages."""

import pytest
from django.urls import reverse

from tickets import crypto
from tickets.models import Mailbox, Ticket

from .mail_fixtures import IMAP_PASSWORD, make_email

pytestmark = pytest.mark.django_db


def _form(imap_server, **changes):
    data = {
        "name": "Support",
        "email_address": "support@example.com",
        "host": imap_server.host,
        "port": imap_server.port,
        "username": imap_server.username,
        "password": IMAP_PASSWORD,
        "folder": "INBOX",
        "default_priority": "normal",
        "enabled": "on",
    }
    data.update(changes)
    return data


def test_an_admin_adds_a_mailbox_and_the_password_is_stored_encrypted(login, admin_user, imap_server):
    client = login(admin_user)

    response = client.post(reverse("tickets:mailbox-create"), _form(imap_server))

    mailbox = Mailbox.objects.get()
    assert response.status_code == 302
    assert IMAP_PASSWORD not in mailbox.password_encrypted
    assert crypto.decrypt(mailbox.password_encrypted) == IMAP_PASSWORD
    page = client.get(reverse("tickets:mailbox-edit", args=[mailbox.pk])).content.decode()
    assert IMAP_PASSWORD not in page and mailbox.password_encrypted not in page


def test_saving_without_a_password_keeps_the_stored_one(login, admin_user, imap_server, mailbox):
    stored = mailbox.password_encrypted

    login(admin_user).post(
        reverse("tickets:mailbox-edit", args=[mailbox.pk]), _form(imap_server, password="", name="Renamed")
    )

    mailbox.refresh_from_db()
    assert (mailbox.name, mailbox.password_encrypted) == ("Renamed", stored)


def test_a_new_mailbox_needs_a_password(login, admin_user, imap_server):
    response = login(admin_user).post(reverse("tickets:mailbox-create"), _form(imap_server, password=""))

    assert response.status_code == 400 and "Enter the mailbox password." in response.content.decode()
    assert not Mailbox.objects.exists()


def test_test_connection_reports_success_and_failure(login, admin_user, imap_server, mailbox):
    client = login(admin_user)
    imap_server.add(make_email())

    page = client.post(reverse("tickets:mailbox-test", args=[mailbox.pk]), follow=True).content.decode()
    assert "Connected; 1 message(s) in INBOX." in page

    Mailbox.objects.filter(pk=mailbox.pk).update(password_encrypted=crypto.encrypt("wrong"))
    page = client.post(reverse("tickets:mailbox-test", args=[mailbox.pk]), follow=True).content.decode()
    assert "Connection failed: Login refused" in page


def test_check_now_reads_the_mailbox(login, admin_user, imap_server, mailbox, customer, media):
    imap_server.add(make_email())

    page = login(admin_user).post(reverse("tickets:mailbox-check", args=[mailbox.pk]), follow=True)

    assert "1 new ticket(s)" in page.content.decode()
    assert Ticket.objects.filter(source=Ticket.Source.EMAIL).count() == 1


@pytest.mark.parametrize("name", ["agent", "rep", "manager"])
def test_only_admins_reach_the_mailbox_pages(login, users, name, mailbox, request):
    user = request.getfixturevalue(name)
    client = login(user)

    assert client.get(reverse("tickets:mailboxes")).status_code == 403
    assert client.post(reverse("tickets:mailbox-delete", args=[mailbox.pk])).status_code == 403
    assert Mailbox.objects.filter(pk=mailbox.pk).exists()


def test_the_list_shows_an_empty_state(login, admin_user):
    page = login(admin_user).get(reverse("tickets:mailboxes")).content.decode()
    assert "No mailboxes yet" in page
