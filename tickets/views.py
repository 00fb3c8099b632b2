"""Ticket pages: the queue, a ticket with its thread, creating, merging, bulk actions, attachments.

Every view checks the role permission first (403) and then row access through
selectors.tickets_visible_to (404 for a ticket the user may not see). Writes go through services.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from customers.models import Customer, Interaction
from customers.permissions import customers_visible_to

from . import selectors, services
from .attachments import is_inline, max_bytes
from .forms import (
    BulkForm,
    MergeForm,
    QueueFilterForm,
    ReplyForm,
    SavedFilterForm,
    TicketCreateForm,
    TicketUpdateForm,
)
from .models import SavedFilter, Ticket, TicketAttachment


def permission(codename: str):
    """Signed-in users without the role permission get 403; anonymous visitors go to the login page."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not request.user.has_perm(codename):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _visible_ticket(request, pk) -> Ticket:
    try:
        return selectors.ticket_detail(user=request.user, pk=pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No ticket found, or you do not have access to it.")) from None


def _attach_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# The queue --------------------------------------------------------------------------------------

TAB_LABELS = {
    selectors.TAB_MY: gettext_lazy("My tickets"),
    selectors.TAB_TEAM: gettext_lazy("Team queue"),
    selectors.TAB_UNASSIGNED: gettext_lazy("Unassigned"),
    selectors.TAB_BREACHING: gettext_lazy("Breaching soon"),
    selectors.TAB_ALL: gettext_lazy("All"),
}


@permission("tickets.view_ticket")
def queue(request):
    tab = request.GET.get("tab")
    if tab not in selectors.TABS:
        tab = selectors.TAB_MY
    categories = selectors.category_tree()
    form = QueueFilterForm(request.GET or None, categories=categories)
    form.is_valid()
    filters = getattr(form, "cleaned_data", {})  # the valid fields; the others show their error
    assignee = filters.get("assignee")
    queryset = selectors.ticket_queue(
        user=request.user,
        tab=tab,
        q=filters.get("q", ""),
        statuses=filters.get("status") or (),
        priority=filters.get("priority", ""),
        assignee=request.user.pk if assignee == "me" else (assignee if isinstance(assignee, int) else None),
        unassigned=assignee == "none",
        team=getattr(filters.get("team"), "pk", None),
        category=filters.get("category"),
        sla_state=filters.get("sla", ""),
        tag=getattr(filters.get("tag"), "pk", None),
        source=filters.get("source", ""),
        customer=filters.get("customer"),
        sort=filters.get("sort", ""),
    )
    page = selectors.queue_page(queryset, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query_without_tab = query.copy()
    query_without_tab.pop("tab", None)
    can_assign = request.user.has_perm("tickets.assign_ticket")
    context = {
        "tab": tab,
        "tabs": [(key, TAB_LABELS[key]) for key in selectors.TABS],
        "form": form,
        "page": page,
        "tickets": page.items,
        "query": query.urlencode(),
        "query_without_tab": query_without_tab.urlencode(),
        "filtered": any(v for k, v in filters.items() if k != "sort"),
        "now": timezone.now(),
        "saved_filters": list(SavedFilter.objects.filter(user=request.user)),
        "users": list(services.assignable_users().select_related(None)) if can_assign else [],
        "can_change": request.user.has_perm("tickets.change_ticket"),
        "can_assign": can_assign,
    }
    template = "tickets/queue.html"
    if request.htmx and request.htmx.target == "ticket-table":
        template += "#ticket-table"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@permission("tickets.view_ticket")
@require_POST
def bulk(request):
    form = BulkForm(request.POST, user=request.user)
    back = _safe_next(request, reverse("tickets:queue"))
    if not form.is_valid():
        messages.error(request, _("Select tickets and an action."))
        return redirect(back)
    data = form.cleaned_data
    if data["action"] == services.BULK_CLOSE and not data["confirmed"]:
        tickets = list(
            selectors.tickets_visible_to(request.user)
            .filter(pk__in=data["ids"][: services.BULK_MAX])
            .select_related("customer")
            .order_by("pk")
        )
        return render(
            request, "tickets/bulk_confirm.html", {"tickets": tickets, "next": back, "action": data["action"]}
        )
    try:
        result = services.ticket_bulk(
            actor=request.user,
            ticket_ids=data["ids"],
            action=data["action"],
            assignee=data.get("assignee"),
            tag=data.get("tag", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    if result.done:
        messages.success(
            request,
            _("%(count)d tickets updated.") % {"count": len(result.done)}
            if len(result.done) != 1
            else _("1 ticket updated."),
        )
    if result.skipped:
        messages.warning(
            request,
            _("Skipped: %(list)s")
            % {"list": "; ".join(f"#{pk} ({reason})" for pk, reason in sorted(result.skipped.items()))},
        )
    if not result.done and not result.skipped:
        messages.warning(request, _("None of the selected tickets could be changed."))
    return redirect(back)


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@permission("tickets.view_ticket")
@require_POST
def filter_save(request):
    form = SavedFilterForm(request.POST)
    query = QueryDict(request.POST.get("query", "")[:1000]).copy()
    query.pop("page", None)
    if form.is_valid():
        try:
            services.saved_filter_save(
                user=request.user, name=form.cleaned_data["name"], query=query.urlencode()
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Filter “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
    else:
        messages.error(request, _("Name the filter (at most 60 characters)."))
    return redirect(reverse("tickets:queue") + ("?" + query.urlencode() if query else ""))


@permission("tickets.view_ticket")
@require_POST
def filter_delete(request, pk):
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    services.saved_filter_delete(user=request.user, saved=saved)
    messages.success(request, _("Filter “%(name)s” deleted.") % {"name": saved.name})
    return redirect("tickets:queue")


# Creating ---------------------------------------------------------------------------------------


def _customer_param(request) -> Customer | None:
    raw = request.GET.get("customer") or request.POST.get("customer") or ""
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise Http404(_("No customer found, or you do not have access to it."))
    customer = customers_visible_to(request.user).filter(pk=int(raw)).first()
    if customer is None:
        raise Http404(_("No customer found, or you do not have access to it."))
    return customer


@permission("tickets.add_ticket")
@require_http_methods(["GET", "POST"])
def ticket_create(request):
    customer = _customer_param(request)
    initial = {"customer": customer.pk if customer else None, "team": request.user.team_id}
    form = TicketCreateForm(request.POST or None, request.FILES or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target = customer or services.customer_resolve(user=request.user, phone=data["phone"])
            ticket = services.ticket_create(
                actor=request.user,
                customer=target,
                subject=data["subject"],
                description=data["description"],
                category=data["category"],
                priority=data["priority"],
                team=data["team"],
                assignee=data["assignee"],
                source=data["source"],
                tags=data["tags"],
                custom_fields=data["custom_fields"],
                attachments=data["attachments"],
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Ticket #%(number)s opened.") % {"number": ticket.number})
            return redirect("tickets:detail", pk=ticket.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "tickets/ticket_form.html",
        {"form": form, "customer": customer, "max_bytes": max_bytes()},
        status=status,
    )


# One ticket ---------------------------------------------------------------------------------------


def _detail_context(request, ticket, *, update_form=None, reply_form=None, merge_form=None) -> dict:
    transitions = selectors.allowed_transitions()
    if update_form is None:
        update_form = TicketUpdateForm(
            initial={
                "version": ticket.version,
                "status": ticket.status,
                "priority": ticket.priority,
                "category": ticket.category_id,
                "team": ticket.team_id,
                "assignee": ticket.assignee_id,
                "tags": ", ".join(tag.name for tag in ticket.tags.all()),
            },
            user=request.user,
            ticket=ticket,
            transitions=transitions,
        )
    history = list(
        Interaction.objects.filter(
            subject_type=ContentType.objects.get_for_model(Ticket), subject_id=ticket.pk
        )
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:50]
    )
    user = request.user
    return {
        "ticket": ticket,
        "thread": selectors.ticket_thread(ticket),
        "loose_attachments": list(ticket.attachments.filter(comment__isnull=True)),
        "history": history,
        "escalations": list(ticket.escalations.select_related("notified").order_by("fired_at", "id")),
        "sla_events": list(ticket.sla_events.all()),
        "merged_tickets": list(ticket.merged_tickets.only("pk", "number", "subject")),
        "csat_surveys": list(ticket.csat_surveys.order_by("-sent_at", "-id")[:5]),
        "origin": ticket.origin if ticket.origin_type_id else None,
        "origin_kind": ContentType.objects.get_for_id(ticket.origin_type_id).model
        if ticket.origin_type_id
        else "",
        "update_form": update_form,
        "reply_form": reply_form or ReplyForm(ticket=ticket, transitions=transitions),
        "merge_form": merge_form or MergeForm(),
        "following": any(f.pk == user.pk for f in ticket.followers.all()),
        "can_change": user.has_perm("tickets.change_ticket"),
        "can_assign": user.has_perm("tickets.assign_ticket"),
        "can_merge": user.has_perm("tickets.merge_ticket"),
        "now": timezone.now(),
        "max_bytes": max_bytes(),
    }


@permission("tickets.view_ticket")
def ticket_detail(request, pk):
    ticket = _visible_ticket(request, pk)
    return render(request, "tickets/ticket_detail.html", _detail_context(request, ticket))


@permission("tickets.change_ticket")
@require_POST
def ticket_reply(request, pk):
    ticket = _visible_ticket(request, pk)
    form = ReplyForm(request.POST, request.FILES, ticket=ticket, transitions=selectors.allowed_transitions())
    if form.is_valid():
        data = form.cleaned_data
        try:
            comment = services.ticket_reply(
                ticket=ticket,
                actor=request.user,
                body=data["body"],
                internal=data["internal"],
                attachments=data["attachments"],
                status=data["status"] or None,
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Note added.") if comment.internal else _("Reply added."))
            return redirect(reverse("tickets:detail", args=[pk]) + f"#comment-{comment.pk}")
    ticket = _visible_ticket(request, pk)
    return render(
        request, "tickets/ticket_detail.html", _detail_context(request, ticket, reply_form=form), status=400
    )


@permission("tickets.change_ticket")
@require_POST
def ticket_update(request, pk):
    ticket = _visible_ticket(request, pk)
    form = TicketUpdateForm(
        request.POST, user=request.user, ticket=ticket, transitions=selectors.allowed_transitions()
    )
    if form.is_valid():
        data = form.cleaned_data
        changes = {
            "status": data["status"],
            "priority": data["priority"],
            "category": data["category"],
            "assignee": data["assignee"],
            "tags": data["tags"],
        }
        if request.user.has_perm("tickets.assign_ticket"):
            changes["team"] = data["team"]
        try:
            services.ticket_update(
                ticket=ticket, actor=request.user, expected_version=data["version"], **changes
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Ticket updated."))
            return redirect("tickets:detail", pk=pk)
    ticket = _visible_ticket(request, pk)
    return render(
        request, "tickets/ticket_detail.html", _detail_context(request, ticket, update_form=form), status=400
    )


@permission("tickets.change_ticket")
@require_POST
def ticket_take(request, pk):
    ticket = _visible_ticket(request, pk)
    try:
        services.ticket_assign(ticket=ticket, actor=request.user, assignee=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The ticket is yours."))
    return redirect("tickets:detail", pk=pk)


@permission("tickets.assign_ticket")
@require_POST
def ticket_auto_assign(request, pk):
    ticket = _visible_ticket(request, pk)
    try:
        ticket = services.ticket_assign(ticket=ticket, actor=request.user, auto=True)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Assigned to %(user)s (%(how)s).")
            % {"user": ticket.assignee, "how": ticket.get_assigned_via_display()},
        )
    return redirect("tickets:detail", pk=pk)


@permission("tickets.view_ticket")
@require_POST
def ticket_follow(request, pk):
    ticket = _visible_ticket(request, pk)
    follow = request.POST.get("follow") != "0"
    services.ticket_follow(ticket=ticket, actor=request.user, follow=follow)
    messages.success(
        request, _("You follow this ticket.") if follow else _("You no longer follow this ticket.")
    )
    return redirect("tickets:detail", pk=pk)


@permission("tickets.merge_ticket")
@require_http_methods(["GET", "POST"])
def ticket_merge(request, pk):
    """Choose the ticket to merge into, see both side by side, confirm."""
    source = _visible_ticket(request, pk)
    form = MergeForm(request.POST or request.GET or None)
    target = None
    if form.is_bound and form.is_valid():
        target = (
            selectors.tickets_visible_to(request.user)
            .select_related("customer", "assignee")
            .filter(number=form.cleaned_data["target"])
            .first()
        )
        if target is None:
            form.add_error("target", _("No ticket with this number, or you do not have access to it."))
        elif request.method == "POST" and request.POST.get("confirmed") == "1":
            try:
                services.ticket_merge(source=source, target=target, actor=request.user)
            except ValidationError as exc:
                _attach_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Ticket #%(source)s merged into #%(target)s.")
                    % {"source": source.number, "target": target.number},
                )
                return redirect("tickets:detail", pk=target.pk)
    return render(
        request,
        "tickets/merge.html",
        {"ticket": source, "form": form, "target": target if not form.errors else None},
        status=400 if form.errors else 200,
    )


@permission("tickets.view_ticket")
def attachment_download(request, pk):
    attachment = get_object_or_404(
        TicketAttachment.objects.filter(ticket__in=selectors.tickets_visible_to(request.user)), pk=pk
    )
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404(_("The file is missing.")) from None
    inline = is_inline(attachment.content_type)
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
