import datetime as dt
import io
import threading
from decimal import Decimal
from email import message_from_bytes

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from customers.models import Interaction
from sales import quotes
from sales.models import Deal, Quote
from tests.factories import CustomerFactory
from tests.mail_sink import free_port

from .factories import DealFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db


def line(description="Item", quantity="1", unit_price="100", discount_percent="0"):
    return {
        "description": description,
        "quantity": Decimal(quantity),
        "unit_price": Decimal(unit_price),
        "discount_percent": Decimal(discount_percent),
    }


def make_quote(deal, actor, lines=None, **kwargs):
    return quotes.quote_create(
        actor=actor, deal=deal, lines=[line("ERP 授權", "2", "50000")] if lines is None else lines, **kwargs
    )


# Totals ----------------------------------------------------------------------------------------


def lines_in(*rows):
    return [quotes.LineInput(d, Decimal(q), Decimal(p), Decimal(disc)) for d, q, p, disc in rows]


def test_twd_totals_round_half_up_to_whole_dollars_line_then_quote_discount_then_tax():
    totals = quotes.quote_totals(
        lines=lines_in(("A", "3", "333.50", "10"), ("B", "1", "0.50", "0")),
        discount_percent=Decimal("5"),
        tax_percent=Decimal("5"),
        currency="TWD",
    )
    # A: 1000.50 − 100.05 = 900.45 → 900; B: 0.50 → 1 (half up)
    assert totals.line_totals == [Decimal("900.00"), Decimal("1.00")]
    assert totals.subtotal == Decimal("901.00")
    assert totals.discount == Decimal("45.00")  # 45.05 → 45
    assert totals.tax == Decimal("43.00")  # 856 × 5 % = 42.80 → 43
    assert totals.total == Decimal("899.00")


def test_usd_totals_keep_cents_and_round_half_up():
    totals = quotes.quote_totals(
        lines=lines_in(("A", "1", "10.005", "0"), ("B", "3", "0.335", "0")),
        discount_percent=Decimal("0"),
        tax_percent=Decimal("8.25"),
        currency="USD",
    )
    assert totals.line_totals == [Decimal("10.01"), Decimal("1.01")]
    assert totals.subtotal == Decimal("11.02")
    assert totals.tax == Decimal("0.91")  # 0.90915 → 0.91
    assert totals.total == Decimal("11.93")


def test_cny_totals_have_cents_and_a_full_discount_leaves_only_zero():
    totals = quotes.quote_totals(
        lines=lines_in(("A", "1", "99.99", "100")),
        discount_percent=Decimal("0"),
        tax_percent=Decimal("6"),
        currency="CNY",
    )
    assert totals.total == Decimal("0.00")


# Writing quotes --------------------------------------------------------------------------------


def test_a_rep_creates_a_numbered_quote_for_their_deal_and_it_lands_on_the_timeline(deal, rep):
    quote = make_quote(deal, rep, discount_percent=10, tax_percent=5)
    year = quote.created_at.year
    assert quote.number == f"Q-{year}-00001"
    assert quote.version == 1 and quote.status == Quote.Status.DRAFT
    assert quote.currency == "TWD" and quote.customer == deal.customer
    assert quote.subtotal == Decimal("100000.00")
    assert quote.total == Decimal("94500.00")  # −10 % then +5 %
    entry = Interaction.objects.get(kind=Interaction.Kind.QUOTE)
    assert entry.customer == deal.customer and entry.actor == rep
    assert quote.number in entry.summary


def test_quote_numbers_follow_each_other_without_gaps_even_after_a_refused_quote(deal, rep):
    first = make_quote(deal, rep)
    with pytest.raises(ValidationError):
        make_quote(deal, rep, lines=[line(quantity="0")])
    second = make_quote(deal, rep)
    assert int(second.number[-5:]) == int(first.number[-5:]) + 1


def test_bad_lines_get_a_clear_message_and_nothing_is_saved(deal, rep):
    with pytest.raises(ValidationError) as error:
        make_quote(deal, rep, lines=[line(description="", quantity="1"), line(unit_price="-5")])
    assert "Line 1" in str(error.value) and "Line 2" in str(error.value)
    with pytest.raises(ValidationError):
        make_quote(deal, rep, lines=[])
    with pytest.raises(ValidationError):
        make_quote(deal, rep, discount_percent=150)
    with pytest.raises(ValidationError):
        make_quote(deal, rep, valid_until=dt.date(2000, 1, 1))
    assert not Quote.objects.exists()
    assert not Interaction.objects.filter(kind=Interaction.Kind.QUOTE).exists()


def test_a_product_line_takes_the_products_name_and_price(deal, rep):
    product = ProductFactory(name="年度維護", unit_price=Decimal("18000"))
    quote = make_quote(deal, rep, lines=[{"product": product, "quantity": 2}])
    assert quote.lines.get().description == "年度維護"
    assert quote.subtotal == Decimal("36000.00")


def test_revising_makes_a_new_version_and_keeps_the_old_one_read_only(deal, rep):
    first = make_quote(deal, rep)
    second = quotes.quote_revise(
        actor=rep, quote=first, lines=[line("ERP 授權", "3", "50000")], tax_percent=0
    )
    first.refresh_from_db()
    assert (second.number, second.version) == (first.number, 2)
    assert second.previous == first and first.status == Quote.Status.SUPERSEDED
    assert first.lines.get().quantity == Decimal("2")  # untouched
    assert second.total == Decimal("150000.00")
    with pytest.raises(ValidationError):
        quotes.quote_revise(actor=rep, quote=first, lines=[line()])


def test_people_who_cannot_see_the_deal_cannot_quote_on_it(hidden_deal, rep, agent):
    with pytest.raises(PermissionDenied):
        make_quote(hidden_deal, rep)
    own = DealFactory(customer=CustomerFactory(owner=rep), owner=rep)
    with pytest.raises(PermissionDenied):
        make_quote(own, agent)


# Sending ---------------------------------------------------------------------------------------


def test_sending_a_quote_emails_the_pdf_to_the_customer_and_records_it(deal, rep, smtp_sink):
    quote = make_quote(deal, rep)
    quote = quotes.quote_send(actor=rep, quote=quote, message="如有問題請來電")
    envelope = smtp_sink.envelopes[0]
    assert envelope.rcpt_tos == ["wang@example.com"]
    email = message_from_bytes(envelope.content)
    assert quote.number in str(email["Subject"])
    parts = list(email.walk())
    body = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "王小明" in body and "如有問題請來電" in body
    pdf = next(p for p in parts if p.get_content_type() == "application/pdf")
    assert pdf.get_filename() == f"{quote.number}-v1.pdf"
    text = PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages[0].extract_text()
    assert "王小明" in text and "ERP 授權" in text and "TWD 105,000" in text
    assert quote.status == Quote.Status.SENT and quote.sent_to == "wang@example.com"
    entry = Interaction.objects.filter(kind=Interaction.Kind.QUOTE).latest("id")
    assert entry.channel == Interaction.Channel.EMAIL and "sent" in entry.summary


def test_when_the_mail_server_is_down_nothing_is_marked_sent(deal, rep, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    quote = make_quote(deal, rep)
    with pytest.raises(ValidationError, match="could not be sent"):
        quotes.quote_send(actor=rep, quote=quote)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DRAFT and quote.sent_at is None
    assert Interaction.objects.filter(kind=Interaction.Kind.QUOTE).count() == 1  # only "created"


def test_a_customer_without_an_email_address_cannot_be_sent_a_quote(rep):
    deal = DealFactory(customer=CustomerFactory(owner=rep, emails=[]), owner=rep)
    quote = make_quote(deal, rep)
    with pytest.raises(ValidationError, match="no e-mail"):
        quotes.quote_send(actor=rep, quote=quote)


# Deciding --------------------------------------------------------------------------------------


def test_an_accepted_quote_wins_the_deal_with_the_quotes_net_amount(deal, rep):
    quote = make_quote(deal, rep, discount_percent=10, tax_percent=5)
    quotes.quote_accept(actor=rep, quote=quote, note="簽回")
    deal.refresh_from_db()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED and quote.decided_by == rep and quote.decided_at
    assert deal.status == Deal.Status.WON and deal.stage == stage("Won")
    assert deal.amount == Decimal("90000.00")  # net, before tax
    assert deal.contract_status == Deal.Contract.SIGNED
    kinds = set(Interaction.objects.filter(customer=deal.customer).values_list("kind", flat=True))
    assert {Interaction.Kind.QUOTE, Interaction.Kind.DEAL} <= kinds
    with pytest.raises(ValidationError):
        quotes.quote_decline(actor=rep, quote=quote)


def test_a_declined_quote_leaves_the_deal_where_it_was(deal, rep):
    quote = make_quote(deal, rep)
    quotes.quote_decline(actor=rep, quote=quote, note="太貴")
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN and deal.stage == stage("New")
    assert "太貴" in Interaction.objects.filter(kind=Interaction.Kind.QUOTE).latest("id").summary


# Pages -----------------------------------------------------------------------------------------


def test_the_quote_page_shows_the_printable_quote_in_a_constant_number_of_queries(login, deal, rep):
    quote = make_quote(deal, rep)
    client = login(rep)
    url = reverse("sales:quote", args=[quote.pk])
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert quote.number in body and "王小明" in body and "TWD 105,000" in body
    assert "wang@example.com" in body  # reps hold customers.view_contact_details
    for index in range(4):
        quotes.quote_revise(
            actor=rep, quote=Quote.objects.get(number=quote.number, version=index + 1), lines=[line()] * 5
        )
    latest = Quote.objects.get(number=quote.number, version=5)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("sales:quote", args=[latest.pk])).status_code == 200
    assert len(many) == len(few)


def test_the_quote_list_takes_the_same_queries_for_few_or_many_quotes(login, deal, rep):
    client = login(rep)
    make_quote(deal, rep)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("sales:quotes")).status_code == 200
    for _ in range(10):
        make_quote(deal, rep)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("sales:quotes"))
    assert response.content.decode().count('data-testid="quote-row"') == 11
    assert len(many) == len(few)


def test_the_pdf_download_has_the_customers_chinese_name(login, deal, rep):
    quote = make_quote(deal, rep)
    response = login(rep).get(reverse("sales:quote-pdf", args=[quote.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "王小明" in text and quote.number in text


def test_a_rep_creates_a_quote_from_the_deal_page_form(login, deal, rep):
    client = login(rep)
    url = reverse("sales:quote-create", args=[deal.pk])
    assert client.get(url).status_code == 200
    data = {
        "currency": "TWD",
        "valid_until": "2099-12-31",
        "discount_percent": "0",
        "tax_percent": "5",
        "notes": "付款條件：月結 30 天",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "顧問服務",
        "lines-0-quantity": "10",
        "lines-0-unit_price": "3000",
        "lines-0-discount_percent": "",
        "lines-1-description": "",
    }
    response = client.post(url, data)
    quote = Quote.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("sales:quote", args=[quote.pk])
    assert quote.total == Decimal("31500.00")
    data["lines-0-quantity"] = "-1"
    response = client.post(url, data)
    assert response.status_code == 200 and "Qty" in response.content.decode()
    assert Quote.objects.count() == 1


def test_accepting_from_the_page_moves_the_deal(login, deal, rep):
    quote = make_quote(deal, rep)
    response = login(rep).post(reverse("sales:quote-accept", args=[quote.pk]))
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.status == Deal.Status.WON


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("sales:quote", "get"),
        ("sales:quote-pdf", "get"),
        ("sales:quote-revise", "get"),
        ("sales:quote-send", "post"),
        ("sales:quote-accept", "post"),
        ("sales:quote-decline", "post"),
    ],
)
def test_quote_permission_matrix(login, users, hidden_deal, deal, rep, name, method):
    """Hidden quotes are 404 for everyone but admins; agents may read but not change (403)."""
    from crm import roles

    own = make_quote(deal, rep)
    hidden = quotes.quote_create(actor=None, deal=hidden_deal, lines=[line()])
    writes = name != "sales:quote" and name != "sales:quote-pdf"
    for role, user in users.items():
        client = login(user)
        response = getattr(client, method)(reverse(name, args=[hidden.pk]))
        if role == roles.AGENT and writes:
            assert response.status_code == 403, role
        elif role == roles.ADMIN:
            assert response.status_code in (200, 302), role
        else:
            assert response.status_code == 404, role
        if role == roles.AGENT and writes:
            assert getattr(client, method)(reverse(name, args=[own.pk])).status_code == 403
    assert Quote.objects.get(pk=own.pk).status == Quote.Status.DRAFT  # the agent's attempts changed nothing


def test_anonymous_visitors_are_sent_to_log_in(client, deal, rep):
    quote = make_quote(deal, rep)
    for name in ("sales:quotes", "sales:forecast", "sales:commission", "sales:commission-rates"):
        assert "/accounts/login/" in client.get(reverse(name))["Location"]
    assert "/accounts/login/" in client.get(reverse("sales:quote", args=[quote.pk]))["Location"]


def test_the_send_form_masks_the_address_for_users_without_the_contact_details_permission(login, deal, rep):
    from django.contrib.auth.models import Group, Permission

    quote = make_quote(deal, rep)
    Group.objects.get(name="Sales rep").permissions.remove(
        Permission.objects.get(codename="view_contact_details")
    )
    body = login(rep).get(reverse("sales:quote", args=[quote.pk])).content.decode()
    assert "wang@example.com" not in body and 'data-testid="quote-send"' in body


@pytest.mark.django_db(transaction=True)
def test_quotes_made_at_the_same_moment_get_consecutive_numbers(seed_data, rep):
    deal = DealFactory(customer=CustomerFactory(owner=rep), owner=rep)
    barrier = threading.Barrier(4)
    numbers, errors = [], []

    def create():
        try:
            barrier.wait(timeout=10)
            numbers.append(make_quote(Deal.objects.get(pk=deal.pk), rep).number)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(int(number[-5:]) for number in numbers) == [1, 2, 3, 4]


def test_an_expired_quote_says_so_on_its_page(login, deal, rep):
    quote = make_quote(deal, rep)
    client = login(rep)
    assert (
        'data-testid="quote-expired"'
        not in client.get(reverse("sales:quote", args=[quote.pk])).content.decode()
    )
    Quote.objects.filter(pk=quote.pk).update(valid_until=dt.date(2020, 1, 31))
    body = client.get(reverse("sales:quote", args=[quote.pk])).content.decode()
    assert 'data-testid="quote-expired"' in body and "2020-01-31" in body


# The customer's signed link --------------------------------------------------------------------


def test_the_emailed_link_lets_the_customer_accept_the_quote_without_logging_in(
    client, login, deal, rep, smtp_sink
):
    quote = make_quote(deal, rep)
    login(rep).post(reverse("sales:quote-send", args=[quote.pk]), {"message": ""})
    body = (
        next(
            p
            for p in message_from_bytes(smtp_sink.envelopes[0].content).walk()
            if p.get_content_type() == "text/plain"
        )
        .get_payload(decode=True)
        .decode()
    )
    link = next(word for word in body.split() if "/sales/q/" in word)
    path = link[link.index("/sales/q/") :]

    page = client.get(path)
    assert page.status_code == 200 and "王小明" in page.content.decode()
    assert 'data-testid="public-accept"' in page.content.decode()
    response = client.post(path, {"decision": "accept", "note": "OK，請安排"})
    assert response.status_code == 302
    quote.refresh_from_db()
    deal.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED and quote.decided_by is None
    assert deal.status == Deal.Status.WON
    entry = Interaction.objects.filter(kind=Interaction.Kind.QUOTE).latest("id")
    assert entry.channel == Interaction.Channel.WEB and "online" in entry.summary and entry.actor is None
    assert 'data-testid="public-accepted"' in client.get(path).content.decode()


def test_a_tampered_old_or_expired_link_changes_nothing(client, deal, rep):
    first = make_quote(deal, rep)
    old_link = reverse("sales:quote-public", args=[quotes.quote_public_token(first)])
    assert client.get(old_link[:-3] + "x/").status_code == 404
    second = quotes.quote_revise(actor=rep, quote=first, lines=[line()])
    client.post(old_link, {"decision": "accept"})
    first.refresh_from_db()
    assert first.status == Quote.Status.SUPERSEDED
    assert 'data-testid="public-decision"' not in client.get(old_link).content.decode()
    Quote.objects.filter(pk=second.pk).update(valid_until=dt.date(2020, 1, 1))
    new_link = reverse("sales:quote-public", args=[quotes.quote_public_token(second)])
    client.post(new_link, {"decision": "accept"})
    second.refresh_from_db()
    assert second.status == Quote.Status.DRAFT
    assert "expired" in client.get(new_link).content.decode()


def test_the_deal_page_history_shows_the_quotes_events(login, deal, rep):
    quote = make_quote(deal, rep)
    quotes.quote_decline(actor=rep, quote=quote, note="預算不足")
    body = login(rep).get(reverse("sales:deal", args=[deal.pk])).content.decode()
    assert f"Quote {quote.number} created" in body and "預算不足" in body
