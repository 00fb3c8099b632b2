"""Quote pages: list, new quote for a deal, the printable quote, PDF, revise, send, accept, decline."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.pagination import paginate
from customers.normalise import mask_email

from . import quotes, selectors
from .models import Deal, Quote
from .quote_forms import DecisionForm, QuoteForm, SendForm, initial_for_quote, line_formset, lines_from

NOT_FOUND = gettext_lazy("No quote found, or you do not have access to it.")


def _visible_quote(request, pk) -> Quote:
    try:
        return quotes.quote_detail(user=request.user, pk=pk)
    except Quote.DoesNotExist:
        raise Http404(NOT_FOUND) from None


def _visible_deal(request, pk) -> Deal:
    try:
        return selectors.deal_detail(user=request.user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404(_("No deal found, or you do not have access to it.")) from None


def _attach(form, exc: ValidationError) -> list[str]:
    """Put a service's errors on the form; the line errors are returned to show above the lines."""
    line_errors = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field == "lines":
                line_errors.extend(errors)
            else:
                form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
    return line_errors


@login_required
@permission_required("sales.view_quote", raise_exception=True)
@require_GET
def quote_list(request):
    status = request.GET.get("status", "")
    status = status if status in Quote.Status.values else ""
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    page = paginate(quotes.quote_list(user=request.user, status=status, q=q), request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "sales/quote_list.html",
        {
            "page": page,
            "quotes": page.items,
            "status": status,
            "q": q,
            "statuses": Quote.Status.choices,
            "query": query.urlencode(),
        },
    )


def _quote_form_page(request, *, deal, quote=None):
    """New quote (quote=None) or a revision of `quote`: header form and line rows, one POST."""
    if quote is None:
        header = {
            "currency": deal.currency,
            "valid_until": timezone.localdate() + dt.timedelta(days=quotes.DEFAULT_VALID_DAYS),
            "discount_percent": 0,
            "tax_percent": settings.SALES_QUOTE_TAX_PERCENT,
        }
        lines = [
            {
                "product": item.product_id,
                "description": item.description,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
            }
            for item in deal.line_items.all()
        ]
    else:
        header, lines = initial_for_quote(quote)
    form = QuoteForm(request.POST or None, initial=header)
    formset = line_formset(request.POST or None, initial=lines)
    line_errors = []
    if request.method == "POST":
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            arguments = {
                "actor": request.user,
                "lines": lines_from(formset),
                "currency": data["currency"],
                "valid_until": data["valid_until"],
                "discount_percent": data["discount_percent"],
                "tax_percent": data["tax_percent"],
                "notes": data["notes"],
            }
            try:
                if quote is None:
                    saved = quotes.quote_create(deal=deal, **arguments)
                    messages.success(request, _("Quote %(number)s created.") % {"number": saved.number})
                else:
                    saved = quotes.quote_revise(quote=quote, **arguments)
                    messages.success(
                        request,
                        _("Quote %(number)s version %(version)s saved.")
                        % {"number": saved.number, "version": saved.version},
                    )
            except ValidationError as exc:
                line_errors = _attach(form, exc)
            else:
                return redirect("sales:quote", pk=saved.pk)
        else:
            for line_form in formset.forms:
                for field, errors in line_form.errors.items():
                    line_errors.extend(
                        f"{line_form.fields[field].label}: {e}" if field in line_form.fields else e
                        for e in errors
                    )
            line_errors.extend(formset.non_form_errors())
    return render(
        request,
        "sales/quote_form.html",
        {"form": form, "formset": formset, "deal": deal, "quote": quote, "line_errors": line_errors},
    )


@login_required
@permission_required("sales.add_quote", raise_exception=True)
@require_http_methods(["GET", "POST"])
def quote_create(request, pk):
    deal = _visible_deal(request, pk)
    return _quote_form_page(request, deal=deal)


@login_required
@permission_required("sales.change_quote", raise_exception=True)
@require_http_methods(["GET", "POST"])
def quote_revise(request, pk):
    quote = _visible_quote(request, pk)
    if not quote.is_editable:
        messages.error(request, _("This version can no longer be changed."))
        return redirect("sales:quote", pk=quote.pk)
    return _quote_form_page(request, deal=quote.deal, quote=quote)


@login_required
@permission_required("sales.view_quote", raise_exception=True)
@require_GET
def quote_detail(request, pk):
    """The quote as the customer gets it (printable), with the rep's actions around it."""
    quote = _visible_quote(request, pk)
    reveal = request.user.has_perm("customers.view_contact_details")
    emails = [
        {"pk": point.pk, "label": point.value if reveal else mask_email(point.normalised)}
        for point in quotes.customer_emails(quote.customer)
    ]
    return render(
        request,
        "sales/quote_detail.html",
        {
            **quotes.quote_document_context(quote),
            "versions": quotes.quote_versions(quote=quote),
            "emails": emails,
            "can_change": request.user.has_perm("sales.change_quote") and quote.is_editable,
            "send_form": SendForm(),
            "decision_form": DecisionForm(),
            "timeline": _quote_timeline(quote),
            "expired": quote.is_editable and quote.valid_until < timezone.localdate(),
            "public_url": public_url(request, quote) if quote.is_editable else "",
        },
    )


def _quote_timeline(quote: Quote):
    from django.contrib.contenttypes.models import ContentType

    from customers.models import Interaction

    return list(
        Interaction.objects.filter(
            customer_id=quote.customer_id,
            subject_type=ContentType.objects.get_for_model(Quote),
            subject_id__in=Quote.objects.filter(number=quote.number).values("pk"),
        )
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:30]
    )


@login_required
@permission_required("sales.view_quote", raise_exception=True)
@require_GET
def quote_pdf(request, pk):
    quote = _visible_quote(request, pk)
    try:
        pdf = quotes.quote_pdf(quote)
    except quotes.PdfUnavailable:
        messages.error(
            request,
            _("PDFs cannot be made on this server (WeasyPrint or Pango is missing); print the page instead."),
        )
        return redirect("sales:quote", pk=quote.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{quotes.quote_filename(quote)}"'
    return response


@login_required
@permission_required("sales.change_quote", raise_exception=True)
@require_POST
def quote_send(request, pk):
    quote = _visible_quote(request, pk)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The message is too long."))
        return redirect("sales:quote", pk=quote.pk)
    point = None
    if form.cleaned_data["contact_point"]:
        point = next(
            (p for p in quotes.customer_emails(quote.customer) if p.pk == form.cleaned_data["contact_point"]),
            None,
        )
        if point is None:
            messages.error(request, _("Choose one of the customer's e-mail addresses."))
            return redirect("sales:quote", pk=quote.pk)
    try:
        quote = quotes.quote_send(
            actor=request.user,
            quote=quote,
            contact_point=point,
            message=form.cleaned_data["message"],
            public_url=public_url(request, quote),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        shown = (
            quote.sent_to
            if request.user.has_perm("customers.view_contact_details")
            else mask_email(quote.sent_to.lower())
        )
        messages.success(request, _("Quote sent to %(email)s.") % {"email": shown})
    return redirect("sales:quote", pk=quote.pk)


def _decide(request, pk, service, done_message):
    quote = _visible_quote(request, pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        quote = service(actor=request.user, quote=quote, note=note)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done_message % {"number": quote.number, "version": quote.version})
    return redirect("sales:quote", pk=quote.pk)


@login_required
@permission_required("sales.change_quote", raise_exception=True)
@require_POST
def quote_accept(request, pk):
    return _decide(
        request, pk, quotes.quote_accept, _("Quote %(number)s v%(version)s accepted; the deal is won.")
    )


@login_required
@permission_required("sales.change_quote", raise_exception=True)
@require_POST
def quote_decline(request, pk):
    return _decide(request, pk, quotes.quote_decline, _("Quote %(number)s v%(version)s marked as declined."))


# The customer's signed link --------------------------------------------------------------------


def public_url(request, quote: Quote) -> str:
    return request.build_absolute_uri(reverse("sales:quote-public", args=[quotes.quote_public_token(quote)]))


@require_http_methods(["GET", "POST"])
def quote_public(request, token):
    """What the customer opens from the e-mail: the quote, and buttons to accept or decline it.

    No login: the signed token names one version of one quote. Superseded, decided or expired
    versions are shown read-only.
    """
    quote = quotes.quote_from_public_token(token)
    if quote is None:
        raise Http404(_("This link is not valid (any more)."))
    expired = quote.valid_until < timezone.localdate()
    if request.method == "POST" and quote.is_editable and not expired:
        form = DecisionForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        service = quotes.quote_accept if request.POST.get("decision") == "accept" else quotes.quote_decline
        if request.POST.get("decision") in ("accept", "decline"):
            try:
                service(actor=None, quote=quote, note=note, online=True)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("Thank you: your answer was recorded."))
            return redirect("sales:quote-public", token=token)
    response = render(
        request,
        "sales/quote_public.html",
        {**quotes.quote_document_context(quote), "expired": expired, "token": token},
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
