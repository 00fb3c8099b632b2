"""Pages for duplicates, merges and data-subject requests (customers.dedup, .merging, .privacy)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.pagination import paginate
from crm.requests import client_ip

from . import dedup, merging, permissions, selectors, services, tasks
from . import privacy as privacy_service
from .forms import ConsentChangeForm
from .models import Customer, CustomerMerge, DuplicateCandidate
from .templatetags.customers_tags import masked


def _visible(request, pk) -> Customer:
    customer = permissions.customers_visible_to(request.user).filter(pk=pk).first()
    if customer is None:
        raise Http404(_("No customer found, or you do not have access to it."))
    return customer


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
def duplicate_list(request):
    status = request.GET.get("status", DuplicateCandidate.Status.OPEN)
    if status not in DuplicateCandidate.Status.values:
        status = DuplicateCandidate.Status.OPEN
    page = paginate(dedup.candidates_for_review(user=request.user, status=status), request.GET.get("page"))
    recent = (
        CustomerMerge.objects.filter(
            winner__in=permissions.customers_visible_to(request.user), winner__merged_into__isnull=True
        )
        .select_related("winner", "loser", "actor", "undone_by")
        .order_by("-pk")[:10]
    )
    return render(
        request,
        "customers/duplicates.html",
        {
            "page": page,
            "candidates": page.items,
            "status": status,
            "statuses": DuplicateCandidate.Status.choices,
            "recent_merges": recent,
        },
    )


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
@require_POST
def duplicate_scan(request):
    transaction.on_commit(lambda: tasks.duplicates_scan.delay())
    messages.success(request, _("The duplicate scan has started; refresh this page in a moment."))
    return redirect("customers:duplicates")


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
@require_POST
def duplicate_dismiss(request, pk):
    candidate = get_object_or_404(dedup.candidates_for_review(user=request.user), pk=pk)
    dedup.candidate_mark_not_duplicate(actor=request.user, candidate=candidate)
    messages.success(request, _("Marked as not a duplicate: the pair will not be suggested again."))
    return redirect("customers:duplicates")


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
def merge_pick(request, pk):
    """Start a merge from a customer's page: find the other record by name, phone or e-mail."""
    customer = _visible(request, pk)
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    matches = []
    if q:
        matches = [c for c in selectors.customer_list(user=request.user, q=q)[:11] if c.pk != customer.pk][
            :10
        ]
    context = {"customer": customer, "q": q, "matches": matches, "merges": merging.last_merges(customer)}
    return render(request, "customers/merge_pick.html", context)


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def merge_compare(request, first, second):
    """Side by side: which record is kept, and for each field which value wins."""
    if first == second:
        raise Http404(_("Choose two different customers."))
    a, b = _visible(request, min(first, second)), _visible(request, max(first, second))
    by_side = {"a": a, "b": b}
    rows = merging.merge_preview(a, b)
    keep = request.POST.get("keep", "a")
    error = ""
    if request.method == "POST":
        if keep not in by_side:
            error = _("Choose the record to keep.")
        else:
            other = "b" if keep == "a" else "a"
            choices = {}
            for row in rows:
                side = request.POST.get(f"field_{row['field']}", keep)
                if side not in by_side:
                    error = _("Choose a value for every field.")
                    break
                choices[row["field"]] = merging.WINNER if side == keep else merging.LOSER
            if not error:
                try:
                    merge = merging.customer_merge(
                        actor=request.user, winner=by_side[keep], loser=by_side[other], choices=choices
                    )
                except ValidationError as exc:
                    error = " ".join(exc.messages)
                else:
                    messages.success(
                        request,
                        _("“%(loser)s” merged into “%(winner)s”. You can undo this from the duplicates page.")
                        % {"loser": merge.loser.name, "winner": merge.winner.name},
                    )
                    return redirect("customers:detail", pk=merge.winner_id)
    for row in rows:
        fallback = "b" if row["second"] and not row["first"] else "a"
        row["chosen"] = request.POST.get(f"field_{row['field']}", fallback)
    can_see = permissions.can_view_contact_details(request.user)
    contacts = {
        side: [(point, point.value if can_see else masked(point)) for point in customer.contact_points.all()]
        for side, customer in by_side.items()
    }
    held = merging.holdings([a, b])
    return render(
        request,
        "customers/merge.html",
        {
            "a": a,
            "b": b,
            "rows": rows,
            "keep": keep,
            "contacts": contacts,
            "held_a": held[a.pk],
            "held_b": held[b.pk],
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
@permission_required("customers.merge_customer", raise_exception=True)
@require_POST
def merge_undo(request, pk):
    visible = permissions.customers_visible_to(request.user, include_merged=True)
    merge = get_object_or_404(
        CustomerMerge.objects.select_related("winner", "loser"), pk=pk, winner__in=visible
    )
    try:
        merging.customer_merge_undo(actor=request.user, merge=merge)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("customers:duplicates")
    messages.success(
        request,
        _("Merge undone: “%(name)s” is a separate record again.") % {"name": merge.loser.name},
    )
    return redirect("customers:detail", pk=merge.winner_id)


@login_required
@permission_required("customers.handle_data_request", raise_exception=True)
def privacy(request, pk):
    customer = _visible(request, pk)
    return render(request, "customers/privacy.html", _privacy_context(customer))


def _privacy_context(customer, **extra) -> dict:
    return {
        "customer": customer,
        "held": merging.holdings([customer])[customer.pk],
        "consents": customer.consents.select_related("recorded_by").order_by("-occurred_at", "-id")[:200],
        "requests": customer.data_requests.select_related("actor")[:50],
        "erased": privacy_service.is_erased(customer),
        "consent_form": ConsentChangeForm(),
        **extra,
    }


@login_required
@permission_required("customers.handle_data_request", raise_exception=True)
@require_POST
def privacy_export(request, pk):
    customer = _visible(request, pk)
    filename, content = privacy_service.customer_data_export(
        actor=request.user, customer=customer, ip_address=client_ip(request)
    )
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@permission_required("customers.handle_data_request", raise_exception=True)
@require_POST
def privacy_erase(request, pk):
    customer = _visible(request, pk)
    error = ""
    if request.POST.get("confirm") != "yes":
        error = _("Tick the box to confirm that the erasure cannot be reversed.")
    else:
        try:
            privacy_service.customer_erase(
                actor=request.user,
                customer=customer,
                reason=request.POST.get("reason", ""),
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("The customer's personal data has been erased."))
            return redirect("customers:privacy", pk=customer.pk)
    context = _privacy_context(customer, erase_error=error, reason=request.POST.get("reason", "")[:2000])
    return render(request, "customers/privacy.html", context, status=400)


@login_required
@permission_required("customers.handle_data_request", raise_exception=True)
def retention(request):
    months = settings.CUSTOMERS_RETENTION_MONTHS
    page = paginate(privacy_service.retention_due(months=months), request.GET.get("page"))
    return render(
        request,
        "customers/privacy_retention.html",
        {
            "page": page,
            "customers": page.items,
            "months": months,
            "cutoff": privacy_service.retention_cutoff(months),
        },
    )


@login_required
@permission_required("customers.handle_data_request", raise_exception=True)
@require_POST
def privacy_consent(request, pk):
    customer = _visible(request, pk)
    form = ConsentChangeForm(request.POST)
    if form.is_valid():
        try:
            services.consent_record(customer=customer, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Consent change recorded."))
            return redirect("customers:privacy", pk=customer.pk)
    return render(
        request, "customers/privacy.html", _privacy_context(customer, consent_form=form), status=400
    )
