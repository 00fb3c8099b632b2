"""Attachments: size and type checked (by content too), stored under random names, served only to
people who may see the ticket."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm import roles
from tests.factories import CustomerFactory, UserFactory
from tickets import services
from tickets.models import Ticket, TicketAttachment, TicketComment

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n" + b"0" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
EXE = b"MZ\x90\x00" + b"\x00" * 100


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def ticket(customer, rep):
    return services.ticket_create(actor=rep, customer=customer, subject="Invoice is wrong")


def test_a_pdf_is_stored_under_a_random_name_and_served_to_the_team(media, ticket, rep, agent, login):
    comment = services.ticket_reply(
        ticket=ticket,
        actor=rep,
        body="Here is the invoice",
        attachments=[upload("../../invoice 2026.PDF", PDF)],
    )
    attachment = TicketAttachment.objects.get()
    assert attachment.comment == comment and attachment.original_name == "invoice 2026.PDF"
    assert attachment.content_type == "application/pdf" and attachment.size == len(PDF)
    assert "invoice" not in attachment.file.name and attachment.file.name.startswith("tickets/")
    assert attachment.file.name.endswith(".pdf")

    response = login(agent).get(reverse("tickets:attachment", args=[attachment.pk]))  # same team's queue
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert (
        response["X-Content-Type-Options"] == "nosniff" and "sandbox" in response["Content-Security-Policy"]
    )


def test_images_are_shown_inline(media, ticket, rep, login):
    services.ticket_reply(ticket=ticket, actor=rep, body="Photo", attachments=[upload("photo.png", PNG)])
    response = login(rep).get(reverse("tickets:attachment", args=[TicketAttachment.objects.get().pk]))
    assert response["Content-Type"] == "image/png" and response["Content-Disposition"].startswith("inline;")


def test_people_who_cannot_see_the_ticket_get_404(media, ticket, rep, login, other_team):
    services.ticket_reply(ticket=ticket, actor=rep, body="Secret", attachments=[upload("a.pdf", PDF)])
    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    response = login(outsider).get(reverse("tickets:attachment", args=[TicketAttachment.objects.get().pk]))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.exe", EXE, "is not a type of file tickets accept"),
        ("invoice.pdf", EXE, "does not match its extension"),
        ("notes.txt", b"text\x00with a NUL byte", "does not match its extension"),
        ("photo.svg", b"<svg onload=alert(1)>", "is not a type of file tickets accept"),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_wrong_types_are_refused_and_nothing_is_saved(media, ticket, rep, name, content, message):
    with pytest.raises(ValidationError) as error:
        services.ticket_reply(
            ticket=ticket, actor=rep, body="See attached", attachments=[upload(name, content)]
        )
    assert message in " ".join(error.value.message_dict["attachments"])
    assert not TicketComment.objects.exists() and not TicketAttachment.objects.exists()
    assert not (media / "tickets").exists()


def test_files_over_the_size_limit_are_refused(media, settings, ticket, rep):
    settings.TICKETS_ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as error:
        services.ticket_reply(
            ticket=ticket, actor=rep, body="Big", attachments=[upload("big.pdf", PDF + b"0" * 1024)]
        )
    assert "files can be at most 1.0\xa0KB" in " ".join(error.value.messages)
    assert not TicketComment.objects.exists()


def test_a_bad_attachment_on_the_new_ticket_form_leaves_no_ticket(media, customer, rep, login):
    response = login(rep).post(
        reverse("tickets:create") + f"?customer={customer.pk}",
        {
            "customer": customer.pk,
            "subject": "Broken",
            "priority": "normal",
            "source": "manual",
            "attachments": [upload("x.exe", EXE)],
        },
    )
    assert response.status_code == 400
    assert "is not a type of file tickets accept" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_reply_form_shows_the_reason_for_a_refused_file(media, ticket, rep, login):
    response = login(rep).post(
        reverse("tickets:reply", args=[ticket.pk]),
        {"body": "See attached", "attachments": [upload("x.pdf", EXE)]},
    )
    assert response.status_code == 400 and "does not match its extension" in response.content.decode()


def test_a_missing_file_is_a_404_not_an_error(media, ticket, rep, login):
    services.ticket_reply(ticket=ticket, actor=rep, body="x", attachments=[upload("a.pdf", PDF)])
    attachment = TicketAttachment.objects.get()
    attachment.file.delete(save=False)
    assert login(rep).get(reverse("tickets:attachment", args=[attachment.pk])).status_code == 404


def test_attachments_of_a_customer_the_agent_cannot_see_stay_hidden(media, rep, agent, login, other_team):
    owner = UserFactory(username="far-owner", role=roles.SALES_REP, team=other_team)
    stranger = CustomerFactory(name="Stranger", owner=owner)
    ticket = services.ticket_create(
        actor=owner, customer=stranger, subject="Private", attachments=[upload("a.pdf", PDF)]
    )
    assert ticket.attachments.count() == 1
    assert (
        login(agent).get(reverse("tickets:attachment", args=[ticket.attachments.get().pk])).status_code == 404
    )
