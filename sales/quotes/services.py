"""Quote writes: create, revise, send, accept, decline (see sales.quotes for the rules)."""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Interaction
from customers.services import record_interaction

from .. import selectors
from ..models import Deal, Quote, QuoteLine, QuoteSequence, Stage
from ..money import CURRENCIES, format_money
from ..services import MAX_AMOUNT, deal_update
from .documents import PdfUnavailable, quote_document_context, quote_filename, quote_pdf
from .reads import customer_emails
from .totals import _percent, clean_lines, quote_totals

logger = logging.getLogger(__name__)


DEFAULT_VALID_DAYS = 30


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
