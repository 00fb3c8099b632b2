from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.pagination import paginate
from crm.requests import client_ip

from . import permissions, selectors, services
from .forms import ConsentForm, ContactPointForm, CustomerFilterForm, CustomerForm, NoteForm, ShareForm
from .models import ContactPoint, Customer, Interaction
from .panels import render_context


@login_required
def customer_list(request):
    form = CustomerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.customer_list(
        user=request.user,
        q=filters.get("q", ""),
        owner=getattr(filters.get("owner"), "pk", None),
        team=getattr(filters.get("team"), "pk", None),
        tag=getattr(filters.get("tag"), "pk", None),
        lifecycle=filters.get("lifecycle", ""),
        sort=filters.get("sort") or "newest",
    )
    page = paginate(queryset, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "customers": page.items,
        "query": query.urlencode(),
        "q": filters.get("q", ""),
        "show_contacts": False,
    }
    template = "customers/customer_list.html"
    if request.htmx and request.htmx.target == "customer-table":
        template += "#customer-table"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@login_required
@permission_required("customers.add_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_create(request):
    initial = {
        "phones": request.GET.get("phone", "")[:40],
        "owner": request.user.pk,
        "team": request.user.team_id,
    }
    form = CustomerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            customer = services.customer_create(
                actor=request.user,
                name=data["name"],
                kind=data["kind"],
                organisation=data["organisation"],
                owner=data["owner"],
                team=data["team"],
                lifecycle_stage=data["lifecycle_stage"],
                source=data["source"],
                tags=data["tag_names"],
                custom_attributes=data["attributes"],
                contacts=services.ContactInput(phones=data["phones"], emails=data["emails"]),
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Customer “%(name)s” created.") % {"name": customer.name})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "creating": True})


def _attach_errors(form, exc):
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _visible_customer(request, pk) -> Customer:
    try:
        return selectors.customer_detail(user=request.user, pk=pk)
    except Customer.DoesNotExist:
        raise Http404(_("No customer found, or you do not have access to it.")) from None


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_edit(request, pk):
    customer = _visible_customer(request, pk)
    form = CustomerForm(request.POST or None, instance=customer, creating=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.customer_update(
                customer=customer,
                actor=request.user,
                tags=data["tag_names"],
                custom_attributes=data["attributes"],
                **{name: data[name] for name in services.TRACKED_FIELDS},
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:detail", pk=customer.pk)
    customer.refresh_from_db()
    return render(
        request, "customers/customer_form.html", {"form": form, "customer": customer, "creating": False}
    )


def _timeline_filters(request):
    kinds = [k for k in request.GET.getlist("kind") if k in Interaction.Kind.values]
    channels = [c for c in request.GET.getlist("channel") if c in Interaction.Channel.values]
    return kinds, channels


@login_required
def customer_detail(request, pk):
    """The 360 page. Also serves its timeline region alone to htmx ("load more", filters)."""
    kinds, channels = _timeline_filters(request)
    if request.htmx and request.htmx.target in ("timeline-more", "timeline"):
        customer = _customer_for_timeline(request, pk)
        timeline = selectors.timeline_page(
            customer=customer, cursor=request.GET.get("cursor"), kinds=kinds, channels=channels
        )
        fragment = "timeline-entries" if request.GET.get("cursor") else "timeline"
        return render(
            request,
            f"customers/customer_detail.html#{fragment}",
            {"customer": customer, "timeline": timeline, "kinds": kinds, "channels": channels},
        )
    try:
        customer = _visible_customer(request, pk)
    except Http404:
        merged = permissions.customers_visible_to(request.user, include_merged=True).filter(
            pk=pk, merged_into__isnull=False
        )
        for name, winner_id in merged.values_list("name", "merged_into_id"):
            messages.info(request, _("“%(name)s” was merged into this record.") % {"name": name})
            return redirect("customers:detail", pk=winner_id)
        raise
    timeline = selectors.timeline_page(customer=customer, kinds=kinds, channels=channels)
    context = {
        "customer": customer,
        "contact_points": customer.contact_points.all(),
        "timeline": timeline,
        "kinds": kinds,
        "channels": channels,
        "kind_choices": Interaction.Kind.choices,
        "channel_choices": Interaction.Channel.choices,
        "consents": selectors.consent_current(customer),
        "members": customer.members.order_by("name")[:50] if customer.is_organisation else [],
        "panels": render_context(request, customer),
        "note_form": NoteForm(),
        "contact_form": ContactPointForm(),
        "consent_form": ConsentForm(),
        "share_form": ShareForm() if permissions.can_share(request.user) else None,
        "can_reveal": permissions.can_view_contact_details(request.user),
        "can_edit": permissions.can_edit(request.user, customer),
    }
    return render(request, "customers/customer_detail.html", context)


def _customer_for_timeline(request, pk):
    if not permissions.customers_visible_to(request.user).filter(pk=pk).exists():
        raise Http404(_("No customer found, or you do not have access to it."))
    return Customer(pk=pk)


@login_required
@require_POST
def note_add(request, pk):
    customer = _visible_customer(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            entry = services.note_add(customer=customer, actor=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            if request.htmx:
                return render(
                    request,
                    "customers/customer_detail.html#note-added",
                    {"customer": customer, "entry": entry, "note_form": NoteForm()},
                )
            messages.success(request, _("Note added."))
            return redirect("customers:detail", pk=pk)
    if request.htmx:
        response = render(
            request, "customers/customer_detail.html#note-form", {"customer": customer, "note_form": form}
        )
        response["HX-Retarget"] = "#note-form"
        response["HX-Reswap"] = "outerHTML"
        return response
    messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect("customers:detail", pk=pk)


@login_required
@require_POST
def contacts_reveal(request, pk):
    customer = _visible_customer(request, pk)
    revealed = services.contact_details_reveal(
        customer=customer, user=request.user, ip_address=client_ip(request)
    )
    values = {item["id"]: item["value"] for item in revealed}
    return render(
        request,
        "customers/customer_detail.html#contact-list",
        {
            "customer": customer,
            "contact_points": customer.contact_points.all(),
            "revealed": values,
            "can_reveal": True,
            "can_edit": permissions.can_edit(request.user, customer),
        },
    )


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_POST
def contact_add(request, pk):
    customer = _visible_customer(request, pk)
    form = ContactPointForm(request.POST)
    if form.is_valid():
        try:
            services.contact_point_add(customer=customer, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, _("Contact added."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("customers:detail", pk=pk)


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_POST
def contact_remove(request, pk, contact_pk):
    customer = _visible_customer(request, pk)
    contact_point = get_object_or_404(ContactPoint, pk=contact_pk, customer=customer)
    services.contact_point_remove(contact_point=contact_point, actor=request.user)
    messages.success(request, _("Contact removed."))
    return redirect("customers:detail", pk=pk)


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_POST
def consent_add(request, pk):
    customer = _visible_customer(request, pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        services.consent_record(customer=customer, actor=request.user, **form.cleaned_data)
        messages.success(request, _("Consent recorded."))
    else:
        messages.error(request, _("Choose a purpose, a channel and whether consent was granted."))
    return redirect("customers:detail", pk=pk)


@login_required
@require_POST
def customer_share(request, pk):
    if not permissions.can_share(request.user):
        raise PermissionDenied
    customer = _visible_customer(request, pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        services.customer_share(
            customer=customer,
            user=form.cleaned_data["user"],
            actor=request.user,
            revoke="revoke" in request.POST,
        )
        messages.success(request, _("Sharing updated."))
    else:
        messages.error(request, _("Choose a user to share with."))
    return redirect("customers:detail", pk=pk)


@login_required
def phone_lookup(request):
    """Exact lookup by phone number in any format; agents use it to find a caller."""
    number = request.GET.get("number", "").strip()
    matches, error = [], ""
    if number:
        try:
            matches = services.phone_lookup(user=request.user, number=number)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if len(matches) == 1 and not request.htmx:
        return redirect("customers:detail", pk=matches[0].pk)
    return render(
        request,
        "customers/phone_lookup.html",
        {"number": number, "matches": matches, "error": error, "new_url": reverse("customers:create")},
    )
