"""Segment pages: the list, the rule builder with its live count, a segment's members."""

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.models import Team
from crm.pagination import paginate

from . import segments, selectors, services
from .forms import CustomerFilterForm
from .models import Segment, Tag
from .permissions import can_view_contact_details, customers_visible_to
from .segment_forms import SegmentForm, customer_ids, parse_rules

COUNT_REUSE_SECONDS = 300


def _segment(request, pk) -> Segment:
    try:
        return selectors.segments_visible_to(request.user).select_related("owner", "team").get(pk=pk)
    except Segment.DoesNotExist:
        raise Http404(_("No segment found, or you do not have access to it.")) from None


def _editable(request, pk) -> Segment:
    segment = _segment(request, pk)
    if not selectors.segment_editable_by(request.user, segment):
        raise PermissionDenied
    return segment


@login_required
@permission_required("customers.view_segment", raise_exception=True)
def segment_list(request):
    queryset = selectors.segments_visible_to(request.user).select_related("owner", "team")
    kind = request.GET.get("kind", "")
    if kind in Segment.Kind.values:
        queryset = queryset.filter(kind=kind)
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    if q:
        queryset = queryset.filter(name__icontains=q)
    page = paginate(queryset.order_by("name", "id"), request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "customers/segment_list.html"
    if request.htmx and request.htmx.target == "segment-table":
        template += "#segment-table"
    response = render(
        request,
        template,
        {"page": page, "segments": page.items, "kind": kind, "q": q, "query": query.urlencode()},
    )
    response["Vary"] = "HX-Request"
    return response


def builder_config(user) -> dict:
    """What the rule builder offers: every field's operators and value kind, and the choice lists."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")[:500]
    lists = {
        "tags": [[tag.pk, tag.name] for tag in Tag.objects.order_by("name")[:1000]],
        "users": [[u.pk, u.get_full_name() or u.username] for u in users],
        "teams": [[team.pk, team.name] for team in Team.objects.order_by("name")],
    }
    for name in ("lifecycle", "providers", "purposes", "interaction_kinds"):
        lists[name] = [[value, str(label)] for value, label in segments.choices_for(name)]
    fields = [
        {
            "name": name,
            "label": str(field.label),
            "choices": field.choices,
            "operators": [
                {"name": op, "label": str(label), "value": kind}
                for op, (label, kind) in field.operators.items()
            ],
        }
        for name, field in segments.FIELDS.items()
    ]
    return {
        "fields": fields,
        "lists": lists,
        "labels": {
            "all": _("all"),
            "any": _("any"),
            "match": _("Match"),
            "of_these": _("of these conditions"),
            "add_rule": _("Add condition"),
            "add_group": _("Add group"),
            "remove": _("Remove"),
            "channel": _("Official account (optional)"),
            "any_kind": _("any kind"),
            "count": _("how many"),
            "days": _("within days (optional)"),
            "key": _("attribute"),
            "value": _("value"),
            "field": _("What the condition looks at"),
            "comparison": _("Comparison"),
        },
    }


def _segment_form_page(request, form, segment=None):
    return render(
        request,
        "customers/segment_form.html",
        {"form": form, "segment": segment, "builder": builder_config(request.user)},
    )


def _save(request, form, segment=None):
    data = form.cleaned_data
    try:
        return services.segment_save(
            actor=request.user,
            segment=segment,
            name=data["name"],
            description=data["description"],
            kind=segment.kind if segment else data["kind"],
            rules=data["rules"],
            team=data["team"],
            shared=data["shared"],
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    return None


@login_required
@permission_required("customers.add_segment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def segment_create(request):
    initial = {"kind": request.GET.get("kind") or Segment.Kind.DYNAMIC, "team": request.user.team_id}
    initial["rules"] = json.dumps(segments.EMPTY_RULES)
    form = SegmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        segment = _save(request, form)
        if segment is not None:
            messages.success(request, _("Segment “%(name)s” created.") % {"name": segment.name})
            return redirect("customers:segment-detail", pk=segment.pk)
    return _segment_form_page(request, form)


@login_required
@permission_required("customers.change_segment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def segment_edit(request, pk):
    segment = _editable(request, pk)
    form = SegmentForm(request.POST or None, segment=segment)
    if request.method == "POST" and form.is_valid() and _save(request, form, segment) is not None:
        messages.success(request, _("Changes saved."))
        return redirect("customers:segment-detail", pk=segment.pk)
    return _segment_form_page(request, form, segment)


@login_required
@permission_required("customers.view_segment", raise_exception=True)
@require_POST
def segment_preview(request):
    """The builder's live count: how many customers you may see match the rules being edited."""
    context = {}
    try:
        rules = parse_rules(request.POST.get("rules"))
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
    else:
        context["count"] = selectors.rules_count(rules=rules, user=request.user)
        context["conditions"] = bool(rules["rules"])
    return render(request, "customers/segment_form.html#segment-count", context)


@login_required
@permission_required("customers.view_segment", raise_exception=True)
def segment_count(request, pk):
    segment = _segment(request, pk)
    # A list of segments asks for every row's count; over a million customers each may take a second,
    # so a count is reused for a few minutes (a new one after any edit of the segment).
    key = ":".join(
        str(part)
        for part in (
            "segment-count",
            connection.settings_dict["NAME"],
            segment.pk,
            segment.updated_at.timestamp(),
            request.user.pk,
        )
    )
    count = cache.get(key)
    if count is None:
        count = selectors.segment_count(segment=segment, user=request.user)
        cache.set(key, count, COUNT_REUSE_SECONDS)
    return render(request, "customers/segment_list.html#segment-size", {"count": count})


def _describe(rules: dict, names: dict) -> dict:
    """The rules as nested {match, children: [sentence or group]} for the detail page."""
    return {
        "match": rules.get("match", "all"),
        "children": [
            _describe(child, names) if "rules" in child else {"text": segments.describe_rule(child, names)}
            for child in rules.get("rules", [])
        ],
    }


def _choice_names(user) -> dict:
    lists = builder_config(user)["lists"]
    return {name: dict(choices) for name, choices in lists.items()}


@login_required
@permission_required("customers.view_segment", raise_exception=True)
def segment_detail(request, pk):
    segment = _segment(request, pk)
    members = selectors.segment_members_page(segment=segment, user=request.user)
    page = paginate(members, request.GET.get("page"))
    context = {
        "segment": segment,
        "page": page,
        "customers": page.items,
        "can_edit": selectors.segment_editable_by(request.user, segment),
        "can_reveal": can_view_contact_details(request.user),
        "summary": None if segment.is_static else _describe(segment.rules or {}, _choice_names(request.user)),
        "search": "",
        "candidates": [],
    }
    if segment.is_static and context["can_edit"]:
        search = request.GET.get("add", "").replace("\x00", "").strip()[:100]
        if search:
            context["search"] = search
            context["candidates"] = list(
                selectors.customer_search(customers_visible_to(request.user), search)
                .exclude(segment_memberships__segment=segment)
                .order_by("name", "id")[:10]
            )
    template = "customers/segment_detail.html"
    if request.htmx and request.htmx.target in ("segment-members", "segment-candidates"):
        template += "#" + request.htmx.target
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def segment_export(request, pk):
    """Confirm, then queue an export of the segment's customers the user may see (masked as on screen)."""
    from . import exports
    from .models import DataJob

    segment = _segment(request, pk)
    if not exports.can_export(request.user):
        raise PermissionDenied(_("You may not export customers."))
    queryset = customers_visible_to(request.user, selectors.segment_customers(segment=segment))
    description = _("Segment “%(name)s”") % {"name": segment.name}
    if request.method == "POST":
        try:
            job = exports.export_start(
                user=request.user,
                queryset=queryset,
                description=description,
                filters={"segment": segment.pk},
                fmt=request.POST.get("fmt", "csv"),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("customers:job", pk=job.pk)
    context = {
        "count": queryset.order_by().count(),
        "description": description,
        "params": [],
        "unmasked": can_view_contact_details(request.user),
        "formats": DataJob.Format.choices,
        "segment": segment,
    }
    return render(request, "customers/export_start.html", context)


@login_required
@permission_required("customers.change_segment", raise_exception=True)
@require_POST
def segment_members_add(request, pk):
    segment = _editable(request, pk)
    try:
        added = services.segment_members_add(
            actor=request.user, segment=segment, customer_ids=customer_ids(request.POST.getlist("customer"))
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(count)d added to the list.") % {"count": added})
    return redirect("customers:segment-detail", pk=segment.pk)


@login_required
@permission_required("customers.change_segment", raise_exception=True)
@require_POST
def segment_members_remove(request, pk):
    segment = _editable(request, pk)
    try:
        removed = services.segment_members_remove(
            actor=request.user, segment=segment, customer_ids=customer_ids(request.POST.getlist("customer"))
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(count)d removed from the list.") % {"count": removed})
    return redirect("customers:segment-detail", pk=segment.pk)


@login_required
@permission_required("customers.add_segment", raise_exception=True)
@require_POST
def segment_freeze(request, pk):
    segment = _segment(request, pk)
    if segment.is_static:
        raise Http404
    name = request.POST.get("name", "").replace("\x00", "").strip()[:200] or _("%(name)s (copy)") % {
        "name": segment.name
    }
    frozen = services.segment_freeze(actor=request.user, segment=segment, name=name)
    messages.success(request, _("Static list “%(name)s” created.") % {"name": frozen.name})
    return redirect("customers:segment-detail", pk=frozen.pk)


@login_required
@permission_required("customers.delete_segment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def segment_delete(request, pk):
    segment = _editable(request, pk)
    if request.method == "POST":
        services.segment_delete(actor=request.user, segment=segment)
        messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
        return redirect("customers:segments")
    return render(request, "customers/segment_confirm_delete.html", {"segment": segment})


@login_required
@permission_required("customers.add_segment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def segment_from_customers(request):
    """Save the customer list's current results (its search and filters) as a static list."""
    source = request.POST if request.method == "POST" else request.GET
    filters_form = CustomerFilterForm(source)
    filters = filters_form.cleaned_data if filters_form.is_valid() else {}
    customers = selectors.customer_list(
        user=request.user,
        q=filters.get("q", ""),
        owner=getattr(filters.get("owner"), "pk", None),
        team=getattr(filters.get("team"), "pk", None),
        tag=getattr(filters.get("tag"), "pk", None),
        lifecycle=filters.get("lifecycle", ""),
    )
    name = source.get("name", "").replace("\x00", "").strip()[:200]
    error = ""
    if request.method == "POST":
        try:
            static = services.segment_create_static_from(actor=request.user, name=name, customers=customers)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("Static list “%(name)s” created.") % {"name": static.name})
            return redirect("customers:segment-detail", pk=static.pk)
    query = source.copy()
    for key in ("name", "csrfmiddlewaretoken", "page", "sort"):
        query.pop(key, None)
    context = {
        "count": customers.order_by().count(),
        "filters": [(key, value) for key, value in query.items() if key in filters_form.fields],
        "name": name,
        "error": error,
    }
    return render(request, "customers/segment_from_customers.html", context)
