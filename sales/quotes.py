"""Quotes: numbering, totals, versions, the PDF, sending by e-mail, acceptance and decline.

Totals (all Decimal, ROUND_HALF_UP to the currency's places: TWD and JPY whole units, others cents):
  line total  = quantity × unit price − the line's discount, rounded per line;
  subtotal    = Σ line totals;
  discount    = subtotal × the quote's discount %, rounded;
  tax         = (subtotal − discount) × tax %, rounded;
  total       = subtotal − discount + tax.
Deals store amounts with two decimal places and a currency code, so quotes do the same.

A revision is a new Quote row with the same number and the next version; the versions before it are
"superseded" and read-only. Accepting a quote moves its deal to the pipeline's won stage (the customer
has committed to buy), sets the deal's amount to the quote's net total (before tax) when the currencies
match, and the contract status to "signed"; declining leaves the deal where it is.
"""

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Interaction
from customers.services import record_interaction

from . import selectors
from .models import Deal, Product, Quote, QuoteLine, QuoteSequence, Stage
from .money import CURRENCIES, format_money
from .services import MAX_AMOUNT, deal_update

logger = logging.getLogger(__name__)

ZERO_DECIMAL_CURRENCIES = {"TWD", "JPY"}
MAX_LINES = 50
DEFAULT_VALID_DAYS = 30


def currency_places(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's smallest unit, kept with two places as deals store amounts."""
    exponent = Decimal(1) if currency_places(currency) == 0 else Decimal("0.01")
    return amount.quantize(exponent, rounding=ROUND_HALF_UP).quantize(Decimal("0.01"))


# Totals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = Decimal(0)
    product: Product | None = None


@dataclass(frozen=True)
class Totals:
    line_totals: list[Decimal]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal

    @property
    def net(self) -> Decimal:
        return self.subtotal - self.discount


def quote_totals(
    *, lines: list[LineInput], discount_percent: Decimal, tax_percent: Decimal, currency: str
) -> Totals:
    """Per-line discount, then the quote's discount, then tax; each step rounded (see the module doc)."""
    line_totals = []
    for line in lines:
        gross = line.quantity * line.unit_price
        line_totals.append(round_money(gross - gross * line.discount_percent / 100, currency))
    subtotal = sum(line_totals, Decimal("0.00"))
    discount = round_money(subtotal * discount_percent / 100, currency)
    tax = round_money((subtotal - discount) * tax_percent / 100, currency)
    return Totals(
        line_totals=line_totals,
        subtotal=subtotal,
        discount=discount,
        tax=tax,
        total=subtotal - discount + tax,
    )


# Input -----------------------------------------------------------------------------------------


def _decimal(value, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        raise ValueError from None
    if not number.is_finite() or number < minimum or number > maximum:
        raise ValueError
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _percent(value, field: str, errors: dict) -> Decimal:
    try:
        return _decimal(value, minimum=Decimal(0), maximum=Decimal(100))
    except ValueError:
        errors[field] = _("Enter a percentage between 0 and 100.")
        return Decimal(0)


def clean_lines(lines) -> list[LineInput]:
    """Dicts (description, quantity, unit_price, discount_percent, product) to LineInput; ValidationError."""
    cleaned, problems = [], []
    for index, raw in enumerate(lines, start=1):
        product = raw.get("product")
        description = (raw.get("description") or "").strip() or (product.name if product else "")
        unit_price = raw.get("unit_price")
        if unit_price in (None, "") and product is not None:
            unit_price = product.unit_price
        try:
            quantity = _decimal(raw.get("quantity", 1), minimum=Decimal("0.01"), maximum=Decimal("99999999"))
            price = _decimal(unit_price, minimum=Decimal(0), maximum=MAX_AMOUNT)
            discount = _decimal(raw.get("discount_percent"), minimum=Decimal(0), maximum=Decimal(100))
        except ValueError:
            problems.append(
                _("Line %(n)s: enter a quantity above zero, a price of 0 or more and a discount of 0–100 %%.")
                % {"n": index}
            )
            continue
        if not description:
            problems.append(_("Line %(n)s: describe the item or choose a product.") % {"n": index})
            continue
        cleaned.append(LineInput(description[:200], quantity, price, discount, product))
    if not cleaned and not problems:
        problems.append(_("Add at least one line to the quote."))
    if len(cleaned) > MAX_LINES:
        problems.append(_("A quote has at most %(n)s lines.") % {"n": MAX_LINES})
    if problems:
        raise ValidationError({"lines": problems})
    return cleaned


# Permissions and reads -------------------------------------------------------------------------


def quotes_visible_to(user, queryset=None):
    """The quotes of the deals `user` may see, if they may see quotes at all."""
    queryset = Quote.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.has_perm("sales.view_quote"):
        return queryset.none()
    return queryset.filter(deal__in=selectors.deals_visible_to(user).values("pk"))


def quote_detail(*, user, pk) -> Quote:
    """Quote.DoesNotExist when it is not there or not visible."""
    return (
        quotes_visible_to(user)
        .select_related("deal", "deal__pipeline", "deal__stage", "customer", "created_by", "decided_by")
        .prefetch_related("lines")
        .get(pk=pk)
    )


def quote_versions(*, quote: Quote) -> list[Quote]:
    return list(
        Quote.objects.filter(number=quote.number)
        .order_by("-version")
        .only("number", "version", "status", "total", "currency", "created_at")
    )


def deal_quotes(*, user, deal: Deal, limit=20) -> list[Quote]:
    return list(quotes_visible_to(user).filter(deal=deal).order_by("-created_at", "-id")[:limit])


def quote_list(*, user, status: str = "", q: str = ""):
    queryset = quotes_visible_to(user).select_related("customer", "deal", "created_by")
    # Without a status filter, superseded versions are left out: they are reached from the newest one.
    current = queryset.exclude(status=Quote.Status.SUPERSEDED)
    queryset = queryset.filter(status=status) if status else current
    if q:
        queryset = queryset.filter(
            Q(number__icontains=q) | Q(customer__name__icontains=q) | Q(deal__title__icontains=q)
        )
    return queryset.order_by("-created_at", "-id")


PUBLIC_SALT = "sales.quote-public"
PUBLIC_LINK_MAX_AGE = dt.timedelta(days=366)


def quote_public_token(quote: Quote) -> str:
    """The signed part of the link a customer opens to see, accept or decline one version of a quote."""
    return signing.dumps({"q": quote.pk, "v": quote.version}, salt=PUBLIC_SALT)


def quote_from_public_token(token: str) -> Quote | None:
    """The quote version a link points to; None when the link was tampered with or is too old."""
    try:
        data = signing.loads(token, salt=PUBLIC_SALT, max_age=PUBLIC_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("q"), int) or not isinstance(data.get("v"), int):
        return None
    return (
        Quote.objects.select_related("deal", "customer")
        .prefetch_related("lines")
        .filter(pk=data["q"], version=data["v"])
        .first()
    )


def customer_emails(customer) -> list[ContactPoint]:
    return list(customer.contact_points.filter(kind=ContactPoint.Kind.EMAIL).order_by("-is_primary", "id"))


def _check(actor, deal: Deal, permission: str, message: str) -> None:
    if actor is None:
        return
    if not actor.has_perm(permission):
        raise PermissionDenied(message)
    if not selectors.deals_visible_to(actor).filter(pk=deal.pk).exists():
        raise PermissionDenied(_("You do not have access to this deal."))


def _record(quote: Quote, actor, summary: str, data: dict, channel=Interaction.Channel.CRM, now=None):
    return record_interaction(
        customer=quote.customer,
        kind=Interaction.Kind.QUOTE,
        channel=channel,
        summary=summary,
        actor=actor,
        subject=quote,
        occurred_at=now,
        data={
            "quote": quote.pk,
            "deal": quote.deal_id,
            "number": quote.number,
            "version": quote.version,
            **data,
        },
    )


# Writes ----------------------------------------------------------------------------------------


def _next_number(year: int) -> str:
    """The year's next number, gap-free: the counter row stays locked until the transaction ends."""
    sequence = QuoteSequence.objects.select_for_update().filter(year=year).first()
    if sequence is None:
        try:
            with transaction.atomic():
                QuoteSequence.objects.create(year=year)
        except IntegrityError:
            pass  # someone else created it first: lock theirs
        sequence = QuoteSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"Q-{year}-{sequence.last_number:05d}"


def _clean_header(*, currency, valid_until, discount_percent, tax_percent, today) -> dict:
    errors = {}
    if currency not in CURRENCIES:
        errors["currency"] = _("Choose a currency from the list.")
    if valid_until is None:
        valid_until = today + dt.timedelta(days=DEFAULT_VALID_DAYS)
    elif valid_until < today:
        errors["valid_until"] = _("The validity date cannot be in the past.")
    discount = _percent(discount_percent, "discount_percent", errors)
    tax = _percent(tax_percent, "tax_percent", errors)
    return {
        "currency": currency,
        "valid_until": valid_until,
        "discount": discount,
        "tax": tax,
        "errors": errors,
    }


def _save_quote(*, deal, actor, lines, header, notes, number, version, previous, now) -> Quote:
    totals = quote_totals(
        lines=lines,
        discount_percent=header["discount"],
        tax_percent=header["tax"],
        currency=header["currency"],
    )
    if totals.total > MAX_AMOUNT:
        raise ValidationError({"lines": [_("The quote's total is too large.")]})
    quote = Quote.objects.create(
        deal=deal,
        customer=deal.customer,
        number=number,
        version=version,
        previous=previous,
        currency=header["currency"],
        valid_until=header["valid_until"],
        discount_percent=header["discount"],
        tax_percent=header["tax"],
        notes=(notes or "").strip()[:5000],
        subtotal=totals.subtotal,
        discount_amount=totals.discount,
        tax_amount=totals.tax,
        total=totals.total,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
    )
    QuoteLine.objects.bulk_create(
        QuoteLine(
            quote=quote,
            position=position,
            product=line.product,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            total=line_total,
        )
        for position, (line, line_total) in enumerate(zip(lines, totals.line_totals, strict=True))
    )
    return quote


@transaction.atomic
def quote_create(
    *,
    actor,
    deal: Deal,
    lines,
    currency: str = "",
    valid_until: dt.date | None = None,
    discount_percent=0,
    tax_percent=None,
    notes: str = "",
    now=None,
) -> Quote:
    """A new quote (version 1, draft) for a deal, numbered Q-<year>-<nnnnn> without gaps."""
    _check(actor, deal, "sales.add_quote", _("You may not create quotes."))
    now = now or timezone.now()
    header = _clean_header(
        currency=currency or deal.currency,
        valid_until=valid_until,
        discount_percent=discount_percent,
        tax_percent=settings.SALES_QUOTE_TAX_PERCENT if tax_percent is None else tax_percent,
        today=timezone.localdate(now),
    )
    errors = header.pop("errors")
    try:
        cleaned = clean_lines(lines)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    number = _next_number(timezone.localdate(now).year)
    quote = _save_quote(
        deal=deal,
        actor=actor,
        lines=cleaned,
        header=header,
        notes=notes,
        number=number,
        version=1,
        previous=None,
        now=now,
    )
    _record(
        quote,
        actor,
        _("Quote %(number)s created for “%(deal)s”: %(total)s")
        % {"number": number, "deal": deal.title, "total": format_money(quote.total, quote.currency)},
        {"event": "created", "total": str(quote.total), "currency": quote.currency},
        now=now,
    )
    return quote


def _lock_quote(quote: Quote) -> Quote:
    Quote.objects.select_for_update().filter(pk=quote.pk).values_list("pk").get()
    return Quote.objects.select_related("deal", "customer").get(pk=quote.pk)


def _require_editable(quote: Quote) -> None:
    if not quote.is_editable:
        raise ValidationError(
            _("Quote %(number)s v%(version)s is %(status)s and can no longer be changed.")
            % {"number": quote.number, "version": quote.version, "status": quote.get_status_display().lower()}
        )


@transaction.atomic
def quote_revise(
    *,
    actor,
    quote: Quote,
    lines,
    currency: str = "",
    valid_until: dt.date | None = None,
    discount_percent=0,
    tax_percent=None,
    notes: str = "",
    now=None,
) -> Quote:
    """The next version of a quote; the version revised is kept, superseded and read-only."""
    _check(actor, quote.deal, "sales.change_quote", _("You may not change quotes."))
    now = now or timezone.now()
    quote = _lock_quote(quote)
    _require_editable(quote)
    header = _clean_header(
        currency=currency or quote.currency,
        valid_until=valid_until,
        discount_percent=discount_percent,
        tax_percent=quote.tax_percent if tax_percent is None else tax_percent,
        today=timezone.localdate(now),
    )
    errors = header.pop("errors")
    try:
        cleaned = clean_lines(lines)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    quote.status = Quote.Status.SUPERSEDED
    quote.save(update_fields=["status"])
    revision = _save_quote(
        deal=quote.deal,
        actor=actor,
        lines=cleaned,
        header=header,
        notes=notes,
        number=quote.number,
        version=quote.version + 1,
        previous=quote,
        now=now,
    )
    _record(
        revision,
        actor,
        _("Quote %(number)s revised (version %(version)s): %(total)s")
        % {
            "number": revision.number,
            "version": revision.version,
            "total": format_money(revision.total, revision.currency),
        },
        {"event": "revised", "total": str(revision.total), "currency": revision.currency},
        now=now,
    )
    return revision


class PdfUnavailable(Exception):
    """WeasyPrint or the system libraries it needs (Pango) are missing on this machine."""


def quote_document_context(quote: Quote) -> dict:
    return {
        "quote": quote,
        "lines": list(quote.lines.all()),
        "company": settings.SALES_QUOTE_COMPANY,
        "places": currency_places(quote.currency),
    }


def quote_pdf(quote: Quote) -> bytes:
    """The quote as a PDF, from the same HTML as the printable page; fonts (CJK too) are embedded."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        logger.warning("Quote PDFs are unavailable: %s", exc)
        raise PdfUnavailable(str(exc)) from exc
    html = render_to_string("sales/quote_document.html", quote_document_context(quote))
    return HTML(string=html).write_pdf()


def quote_filename(quote: Quote) -> str:
    return f"{quote.number}-v{quote.version}.pdf"


@transaction.atomic
def quote_send(
    *,
    actor,
    quote: Quote,
    contact_point: ContactPoint | None = None,
    message: str = "",
    public_url: str = "",
    now=None,
) -> Quote:
    """E-mail the quote with its PDF to the customer; recorded on the timeline. Nothing is saved if sending fails."""
    _check(actor, quote.deal, "sales.change_quote", _("You may not send quotes."))
    now = now or timezone.now()
    quote = _lock_quote(quote)
    _require_editable(quote)
    emails = customer_emails(quote.customer)
    if contact_point is not None:
        emails = [point for point in emails if point.pk == contact_point.pk]
    if not emails:
        raise ValidationError(_("The customer has no e-mail address: add one to their profile first."))
    recipient = emails[0].value
    try:
        pdf = quote_pdf(quote)
    except PdfUnavailable:
        raise ValidationError(
            _("PDFs cannot be made on this server (WeasyPrint or Pango is missing).")
        ) from None
    context = {
        **quote_document_context(quote),
        "message": (message or "").strip()[:2000],
        "sender": actor,
        "public_url": public_url,
    }
    with translation.override(translation.get_language()):
        subject = render_to_string("sales/quote_email_subject.txt", context).strip()
        body = render_to_string("sales/quote_email.txt", context)
    email = EmailMessage(
        subject=" ".join(subject.split())[:200],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        reply_to=[actor.email] if actor is not None and getattr(actor, "email", "") else None,
    )
    email.attach(quote_filename(quote), pdf, "application/pdf")
    try:
        email.send(fail_silently=False)
    except Exception as exc:  # smtplib's errors, refused connections, a backend's own errors
        logger.warning("Sending quote %s failed: %s", quote.pk, exc)
        raise ValidationError(
            _("The e-mail could not be sent (%(error)s); nothing was changed.")
            % {"error": exc.__class__.__name__}
        ) from None
    quote.status = Quote.Status.SENT
    quote.sent_at = now
    quote.sent_to = recipient[:255]
    quote.save(update_fields=["status", "sent_at", "sent_to"])
    _record(
        quote,
        actor,
        _("Quote %(number)s v%(version)s sent by e-mail: %(total)s")
        % {
            "number": quote.number,
            "version": quote.version,
            "total": format_money(quote.total, quote.currency),
        },
        {"event": "sent", "contact_point": emails[0].pk},
        channel=Interaction.Channel.EMAIL,
        now=now,
    )
    return quote


def _won_stage(deal: Deal) -> Stage | None:
    return deal.pipeline.stages.filter(is_won=True).order_by("order", "id").first()


def _require_online_decidable(quote: Quote, now) -> None:
    if quote.valid_until < timezone.localdate(now):
        raise ValidationError(_("This quote has expired; please ask us for a new one."))


@transaction.atomic
def quote_accept(*, actor, quote: Quote, note: str = "", online: bool = False, now=None) -> Quote:
    """The customer accepted: record who and when, and move the deal to won (see the module doc).

    `online`: the customer clicked "accept" behind the signed link themselves (actor is None then).
    """
    _check(actor, quote.deal, "sales.change_quote", _("You may not change quotes."))
    now = now or timezone.now()
    quote = _lock_quote(quote)
    _require_editable(quote)
    if online:
        _require_online_decidable(quote, now)
    quote.status = Quote.Status.ACCEPTED
    quote.decided_at = now
    quote.decided_by = actor if actor is not None and actor.is_authenticated else None
    quote.decision_note = (note or "").strip()[:500]
    quote.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    summary = (
        _("Quote %(number)s v%(version)s accepted by the customer online: %(total)s")
        if online
        else _("Quote %(number)s v%(version)s accepted: %(total)s")
    ) % {"number": quote.number, "version": quote.version, "total": format_money(quote.total, quote.currency)}
    _record(
        quote,
        actor,
        summary,
        {"event": "accepted", "note": quote.decision_note, "online": online},
        channel=Interaction.Channel.WEB if online else Interaction.Channel.CRM,
        now=now,
    )
    deal = Deal.objects.select_related("pipeline", "stage").get(pk=quote.deal_id)
    changes = {"contract_status": Deal.Contract.SIGNED}
    if deal.currency == quote.currency:
        changes["amount"] = min(quote.total - quote.tax_amount, MAX_AMOUNT)
    stage = _won_stage(deal) if deal.status == Deal.Status.OPEN else None
    deal_update(deal=deal, actor=actor, expected_version=deal.version, stage=stage, now=now, **changes)
    return quote


@transaction.atomic
def quote_decline(*, actor, quote: Quote, note: str = "", online: bool = False, now=None) -> Quote:
    """The customer said no: the deal stays where it is, for a revision or to be marked lost."""
    _check(actor, quote.deal, "sales.change_quote", _("You may not change quotes."))
    now = now or timezone.now()
    quote = _lock_quote(quote)
    _require_editable(quote)
    if online:
        _require_online_decidable(quote, now)
    quote.status = Quote.Status.DECLINED
    quote.decided_at = now
    quote.decided_by = actor if actor is not None and actor.is_authenticated else None
    quote.decision_note = (note or "").strip()[:500]
    quote.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    summary = (
        _("Quote %(number)s v%(version)s declined by the customer online")
        if online
        else _("Quote %(number)s v%(version)s declined")
    ) % {"number": quote.number, "version": quote.version}
    if quote.decision_note:
        summary += " — " + quote.decision_note
    _record(
        quote,
        actor,
        summary,
        {"event": "declined", "note": quote.decision_note, "online": online},
        channel=Interaction.Channel.WEB if online else Interaction.Channel.CRM,
        now=now,
    )
    return quote
