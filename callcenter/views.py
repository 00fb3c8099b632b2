from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.db.models import Case, Count, Q, When
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from crm import pubsub, roles
from crm.models import Team
from crm.pagination import paginate
from crm.sse import event_stream, sse_response
from customers.forms import CustomerFilterForm
from customers.models import ContactPoint
from customers.permissions import customers_visible_to

from . import dialer, selectors, services
from .cards import card_html
from .models import AgentStatus, Call, CallList, CallListEntry, Disposition
from .permissions import calls_visible_to
from .templatetags.callcenter_tags import agent_presence


async def stream(request):
    """The agent's one live connection: caller cards and call updates as server-sent events."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse(status=401)

    async def initial():
        return await sync_to_async(_current_cards_then_release_db)(user)

    return sse_response(event_stream(pubsub.user_channel(user.pk), initial=initial))


def _current_cards_then_release_db(user):
    """Read what the screen must show now, then give the database connection back: the stream stays
    open for hours and must not hold a connection all that time."""
    try:
        return selectors.current_cards(user)
    finally:
        connections.close_all()


def _call_for(request, pk) -> Call:
    call = get_object_or_404(calls_visible_to(request.user).select_related("customer"), pk=pk)
    services.check_can_handle(request.user, call)
    return call


@login_required
@require_POST
def wrap_up(request, pk):
    call = _call_for(request, pk)
    disposition = None
    if request.POST.get("disposition"):
        try:
            disposition = Disposition.objects.filter(active=True).get(pk=int(request.POST["disposition"]))
        except (ValueError, Disposition.DoesNotExist):
            return _card(request, call, error=_("Choose a disposition from the list."))
    try:
        call = services.call_wrap_up(
            call=call,
            actor=request.user,
            disposition=disposition,
            note=request.POST.get("note", "")[:5000].replace("\x00", ""),
            create_ticket=request.POST.get("create_ticket") == "1",
            create_task=request.POST.get("create_task") == "1",
        )
    except ValidationError as exc:
        return _card(request, call, error=" ".join(exc.messages))
    return _card(request, call)


@login_required
@require_POST
def set_customer(request, pk):
    call = _call_for(request, pk)
    try:
        customer_id = int(request.POST.get("customer", ""))
    except ValueError:
        return _card(request, call, error=_("Choose a customer."))
    allowed = set(call.candidates) | {call.customer_id}
    customer = customers_visible_to(request.user).filter(pk=customer_id).first()
    if customer is None or (
        customer.pk not in allowed and not request.user.has_perm("customers.change_customer")
    ):
        raise PermissionDenied
    call = services.call_set_customer(call=call, customer=customer, actor=request.user)
    return _card(request, call)


def _card(request, call, error=""):
    call.refresh_from_db()
    return HttpResponse(card_html(call=call, user=request.user, error=error))


@login_required
@require_POST
def presence(request):
    if not request.user.has_perm("callcenter.change_call"):
        raise PermissionDenied
    try:
        services.agent_status_set(user=request.user, status=request.POST.get("status", ""))
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400)
    return render(request, "callcenter/presence.html", agent_presence(request.user))


@login_required
@permission_required("callcenter.view_call", raise_exception=True)
def agents(request):
    """Who is available, and who is on a call now (managers and admins)."""
    if not (roles.is_manager(request.user) or roles.is_admin(request.user)):
        raise PermissionDenied
    rows = selectors.agent_board(user=request.user)
    return render(
        request,
        "callcenter/agents.html",
        {"rows": rows, "now": timezone.now(), "statuses": AgentStatus.Status.choices},
    )


# Call lists. Managers build, share out and close lists; agents work the customers handed to them.


def _require_manager(user) -> None:
    if not services.can_manage_call_lists(user):
        raise PermissionDenied


def _require_worker(user) -> None:
    if not services.can_work_call_lists(user):
        raise PermissionDenied


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    skipped: int = 0
    in_progress: int = 0

    @property
    def pending(self):
        return self.total - self.done - self.skipped - self.in_progress

    @property
    def finished(self):
        return self.done + self.skipped

    def _percent(self, count):
        return count * 100 // self.total if self.total else 0

    @property
    def done_percent(self):
        return self._percent(self.done)

    @property
    def skipped_percent(self):
        return self._percent(self.skipped)

    @property
    def in_progress_percent(self):
        return self._percent(self.in_progress)

    @property
    def finished_percent(self):
        return self._percent(self.finished)


def _state_counts(prefix=""):
    states = CallListEntry.State
    return {
        "total": Count(f"{prefix}id"),
        "done": Count(f"{prefix}id", filter=Q(**{f"{prefix}state": states.DONE})),
        "skipped": Count(f"{prefix}id", filter=Q(**{f"{prefix}state": states.SKIPPED})),
        "in_progress": Count(f"{prefix}id", filter=Q(**{f"{prefix}state": states.IN_PROGRESS})),
    }


def _progress_by_agent(call_list_ids) -> dict[int, list[dict]]:
    """Per list, each agent's progress (and the unassigned customers'), in one query."""
    rows = (
        CallListEntry.objects.filter(call_list_id__in=call_list_ids)
        .values(
            "call_list_id",
            "assigned_to_id",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .annotate(**_state_counts())
        .order_by("call_list_id", "assigned_to__first_name", "assigned_to__username")
    )
    by_list = {}
    for row in rows:
        name = f"{row['assigned_to__first_name']} {row['assigned_to__last_name']}".strip()
        by_list.setdefault(row["call_list_id"], []).append(
            {
                "agent_id": row["assigned_to_id"],
                "name": name or row["assigned_to__username"],
                "progress": Progress(row["total"], row["done"], row["skipped"], row["in_progress"]),
            }
        )
    return by_list


def _list_progress(call_list) -> Progress:
    return Progress(call_list.total, call_list.done, call_list.skipped, call_list.in_progress)


@login_required
@permission_required("callcenter.view_calllist", raise_exception=True)
def call_lists(request):
    """Managers: the lists they run, with progress. Agents: the lists with customers for them."""
    user = request.user
    context = {
        "can_manage": services.can_manage_call_lists(user),
        "can_work": services.can_work_call_lists(user),
    }
    if context["can_manage"]:
        managed = (
            services.call_lists_managed_by(user)
            .select_related("team", "created_by")
            .annotate(
                **_state_counts("entries__"),
                closed=Case(When(status=CallList.Status.CLOSED, then=1), default=0),
            )
            .order_by("closed", "-created_at", "-id")
        )
        page = paginate(managed, request.GET.get("page"))
        by_agent = _progress_by_agent([call_list.pk for call_list in page.items])
        context["page"] = page
        context["managed"] = [
            {
                "call_list": call_list,
                "progress": _list_progress(call_list),
                "agents": by_agent.get(call_list.pk, []),
            }
            for call_list in page.items
        ]
    if context["can_work"]:
        pending, states = CallListEntry.State.PENDING, CallListEntry.State
        mine = Q(entries__assigned_to=user)
        context["mine"] = list(
            services.call_lists_worked_by(user)
            .filter(status=CallList.Status.OPEN)
            .select_related("team")
            .annotate(
                mine_total=Count("entries", filter=mine),
                mine_pending=Count("entries", filter=mine & Q(entries__state=pending)),
                mine_in_progress=Count("entries", filter=mine & Q(entries__state=states.IN_PROGRESS)),
                mine_finished=Count(
                    "entries", filter=mine & Q(entries__state__in=[states.DONE, states.SKIPPED])
                ),
                shared_pending=Count(
                    "entries", filter=Q(entries__assigned_to__isnull=True, entries__state=pending)
                ),
            )
            .filter(Q(mine_total__gt=0) | Q(shared_pending__gt=0))
            .order_by("-created_at", "-id")[:100]
        )
    template = "callcenter/call_lists.html"
    if request.htmx and request.htmx.target == "call-lists-table":
        template += "#managed-table"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


class CallListForm(CustomerFilterForm):
    """The customer list page's search, plus the new list's name and team."""

    name = forms.CharField(label=gettext_lazy("List name"), max_length=200)
    list_team = forms.ModelChoiceField(
        label=gettext_lazy("Team calling"), queryset=Team.objects.none(), required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["sort"]
        team_ids = services.call_list_team_ids(user)
        field = self.fields["list_team"]
        if team_ids is None:
            field.queryset = Team.objects.all()
            field.empty_label = gettext_lazy("No team (admins only)")
        else:
            field.queryset = Team.objects.filter(pk__in=team_ids)
            field.required = True
            field.empty_label = None
            if user.team_id in team_ids:
                field.initial = user.team_id

    def search(self) -> dict:
        data = self.cleaned_data
        return {
            "owner": getattr(data.get("owner"), "pk", None),
            "team": getattr(data.get("team"), "pk", None),
            "tag": getattr(data.get("tag"), "pk", None),
            "lifecycle": data.get("lifecycle", ""),
        }


SEARCH_FIELDS = ("q", "owner", "team", "tag", "lifecycle")


def _search_count(request, form) -> dict:
    """The live count for the search in `form` (bound), or why there is none."""
    if any(name in form.errors for name in SEARCH_FIELDS):
        return {"count": None}
    count = services.call_list_candidate_count(
        user=request.user, q=form.cleaned_data.get("q", ""), filters=form.search()
    )
    return {"count": count, "capped": count > services.CALL_LIST_MAX_ENTRIES}


@login_required
@require_http_methods(["GET", "POST"])
def call_list_create(request):
    """Build a list from a customer search, showing how many customers it will hold before creating it."""
    _require_manager(request.user)
    if not request.user.has_perm("callcenter.add_calllist"):
        raise PermissionDenied
    if request.method == "POST":
        form = CallListForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                call_list, capped = services.call_list_create_from_search(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    q=form.cleaned_data.get("q", ""),
                    filters=form.search(),
                    team=form.cleaned_data.get("list_team"),
                )
            except ValidationError as exc:
                fields = {"name": "name", "team": "list_team", "q": "q"}
                for key, errors in exc.message_dict.items():
                    form.add_error(fields.get(key), errors)
            else:
                count = call_list.entries.count()
                messages.success(
                    request,
                    ngettext(
                        "Call list “%(name)s” created with %(count)d customer.",
                        "Call list “%(name)s” created with %(count)d customers.",
                        count,
                    )
                    % {"name": call_list.name, "count": count},
                )
                if capped:
                    messages.warning(
                        request,
                        _(
                            "The search matched more than %(limit)d customers with a phone number: "
                            "the list holds the first %(limit)d. Narrow the search and build another "
                            "list for the rest."
                        )
                        % {"limit": services.CALL_LIST_MAX_ENTRIES},
                    )
                return redirect("callcenter:call-list-detail", call_list.pk)
        preview = CallListForm(request.POST, user=request.user)
    else:
        form = CallListForm(initial=request.GET.dict(), user=request.user)
        preview = CallListForm(request.GET, user=request.user)
    preview.is_valid()
    context = {
        "form": form,
        "filter_fields": [form[name] for name in ("owner", "team", "tag", "lifecycle")],
        **_search_count(request, preview),
        "limit": services.CALL_LIST_MAX_ENTRIES,
    }
    template = "callcenter/call_list_form.html"
    if request.htmx and request.htmx.target == "call-list-count":
        template += "#count"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


def _managed_list(request, pk) -> CallList:
    _require_manager(request.user)
    return get_object_or_404(services.call_lists_managed_by(request.user).select_related("team"), pk=pk)


class AssignForm(forms.Form):
    agents = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Agents"),
        queryset=None,
        error_messages={
            "required": gettext_lazy("Choose at least one agent."),
            "invalid_choice": gettext_lazy("Choose agents from the list."),
            "invalid_pk_value": gettext_lazy("Choose agents from the list."),
        },
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agents"].queryset = services.call_list_agents(user)


@login_required
def call_list_detail(request, pk):
    """One list for its manager: progress overall and per agent, sharing out, and every customer on it."""
    call_list = _managed_list(request, pk)
    progress = Progress(**CallListEntry.objects.filter(call_list=call_list).aggregate(**_state_counts()))
    context = {
        "call_list": call_list,
        "progress": progress,
        "agents": _progress_by_agent([call_list.pk]).get(call_list.pk, []),
    }
    template = "callcenter/call_list_detail.html"
    if request.htmx and request.htmx.target == "call-list-progress":
        response = render(request, template + "#progress", context)
        response["Vary"] = "HX-Request"
        return response
    entries = CallListEntry.objects.filter(call_list=call_list).select_related(
        "customer", "assigned_to", "disposition", "done_by"
    )
    state = request.GET.get("state", "")
    if state in CallListEntry.State.values:
        entries = entries.filter(state=state)
    else:
        state = ""
    agent = request.GET.get("agent", "")
    if agent == "none":
        entries = entries.filter(assigned_to__isnull=True)
    elif agent.isdigit() and len(agent) < 10:
        entries = entries.filter(assigned_to_id=int(agent))
    else:
        agent = ""
    page = paginate(entries.order_by("position", "pk"), request.GET.get("page"), per_page=50)
    query = request.GET.copy()
    query.pop("page", None)
    assigned = {row["agent_id"] for row in context["agents"] if row["agent_id"]}
    context.update(
        {
            "page": page,
            "entries": page.items,
            "query": query.urlencode(),
            "state": state,
            "agent": agent,
            "states": CallListEntry.State.choices,
            "assign_form": AssignForm(user=request.user, initial={"agents": sorted(assigned)}),
            "search_query": _search_query(call_list.filters),
        }
    )
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


def _search_query(filters) -> str:
    """The stored search as customer list page parameters, to open it there again."""
    query = QueryDict(mutable=True)
    for name in SEARCH_FIELDS:
        value = (filters or {}).get(name)
        if value not in (None, ""):
            query[name] = str(value)
    return query.urlencode()


@login_required
@require_POST
def call_list_assign(request, pk):
    call_list = _managed_list(request, pk)
    form = AssignForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect("callcenter:call-list-detail", call_list.pk)
    try:
        shares = services.call_list_assign(
            actor=request.user, call_list=call_list, agents=list(form.cleaned_data["agents"])
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        total = sum(shares.values())
        messages.success(
            request,
            ngettext(
                "%(count)d customer shared between %(agents)d agents.",
                "%(count)d customers shared between %(agents)d agents.",
                total,
            )
            % {"count": total, "agents": len(shares)}
            if len(shares) > 1
            else ngettext(
                "%(count)d customer handed to %(agent)s.",
                "%(count)d customers handed to %(agent)s.",
                total,
            )
            % {"count": total, "agent": form.cleaned_data["agents"][0]},
        )
    return redirect("callcenter:call-list-detail", call_list.pk)


@login_required
@require_http_methods(["GET", "POST"])
def call_list_close(request, pk):
    """Ask first, then stop handing out the list's customers."""
    call_list = _managed_list(request, pk)
    if request.method == "POST":
        if not call_list.is_open:
            messages.info(request, _("This list was already closed."))
        else:
            services.call_list_close(actor=request.user, call_list=call_list)
            messages.success(request, _("Call list “%(name)s” closed.") % {"name": call_list.name})
        return redirect("callcenter:call-list-detail", call_list.pk)
    progress = Progress(**CallListEntry.objects.filter(call_list=call_list).aggregate(**_state_counts()))
    return render(request, "callcenter/call_list_close.html", {"call_list": call_list, "progress": progress})


def _worked_list(request, pk) -> CallList:
    _require_worker(request.user)
    return get_object_or_404(services.call_lists_worked_by(request.user).select_related("team"), pk=pk)


def _work_page(request, call_list, *, error="", notice="", draft=None, status=200):
    """The agent's page for a list, or only its work area when htmx asks for it."""
    user = request.user
    states = CallListEntry.State
    mine = CallListEntry.objects.filter(call_list=call_list, assigned_to=user)
    counts = mine.aggregate(**_state_counts())
    shared = 0
    if call_list.team_id is not None and call_list.team_id == user.team_id:
        shared = CallListEntry.objects.filter(
            call_list=call_list, assigned_to__isnull=True, state=states.PENDING
        ).count()
    current = (
        mine.filter(state=states.IN_PROGRESS).select_related("customer").order_by("position", "pk").first()
    )
    recent = list(
        mine.filter(state__in=[states.DONE, states.SKIPPED])
        .select_related("customer", "disposition")
        .order_by("-done_at", "-pk")[:10]
    )
    context = {
        **services.call_list_card_context(call_list=call_list, entry=current, user=user),
        "progress": Progress(**counts),
        "shared": shared,
        "recent_entries": recent,
        "error": error,
        "notice": notice,
        "draft": draft or {},
        "inline": True,
    }
    template = "callcenter/call_list_work.html"
    if request.htmx and request.htmx.target == "work-area":
        template += "#work-area"
        status = 200  # htmx swaps only successful responses
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


@login_required
def call_list_work(request, pk):
    """The agent's page for one list: the customer to call now, and the button for the next one."""
    return _work_page(request, _worked_list(request, pk))


@login_required
@require_POST
def call_list_next(request, pk):
    call_list = _worked_list(request, pk)
    error, entry = "", None
    try:
        entry = services.call_list_next(agent=request.user, call_list=call_list)
    except (ValidationError, PermissionDenied) as exc:
        error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    if request.htmx and request.htmx.target == "work-area":
        return _work_page(request, call_list, error=error)
    if request.htmx:
        html = services.call_list_card_html(
            call_list=call_list, entry_id=entry.pk if entry else None, user=request.user, error=error
        )
        return HttpResponse(html)
    if error:
        messages.error(request, error)
    elif entry is None:
        messages.info(request, _("Nobody is left for you to call on this list."))
    return redirect("callcenter:call-list-work", call_list.pk)


@login_required
@require_POST
def call_list_entry_complete(request, pk):
    """Wrap up the customer being called: a disposition, a note, done or skipped."""
    _require_worker(request.user)
    entry = get_object_or_404(
        CallListEntry.objects.select_related("call_list"), pk=pk, assigned_to=request.user
    )
    note = request.POST.get("note", "")[:5000].replace("\x00", "")
    draft = {"note": note, "disposition": request.POST.get("disposition", "")}
    error, disposition = "", None
    if draft["disposition"]:
        try:
            disposition = Disposition.objects.filter(active=True).get(pk=int(draft["disposition"]))
        except (ValueError, Disposition.DoesNotExist):
            error = _("Choose a disposition from the list.")
    state = request.POST.get("state", CallListEntry.State.DONE)
    if not error:
        try:
            services.call_list_entry_complete(
                agent=request.user, entry=entry, disposition=disposition, note=note, state=state
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if request.htmx and request.htmx.target == "work-area":
        notice = "" if error else _("Wrap-up saved.")
        return _work_page(request, entry.call_list, error=error, notice=notice, draft=draft)
    if request.htmx:
        html = services.call_list_card_html(
            call_list=entry.call_list, entry_id=entry.pk, user=request.user, error=error, draft=draft
        )
        return HttpResponse(html)
    if error:
        return _work_page(request, entry.call_list, error=error, draft=draft, status=400)
    messages.success(request, _("Wrap-up saved."))
    return redirect("callcenter:call-list-work", entry.call_list_id)


@login_required
@require_POST
def dial(request):
    """Click-to-call. The button posts the contact's id, never its number, so masked numbers stay masked."""
    if not request.user.has_perm("callcenter.change_call"):
        raise PermissionDenied
    contact_id, customer_id = _posted_id(request, "contact"), _posted_id(request, "customer")
    if contact_id is None:
        return _dial_answer(request, customer_id, error=_("Choose a phone number to call."))
    try:
        contact = dialer.contact_dial(user=request.user, contact_id=contact_id, customer_id=customer_id)
    except ContactPoint.DoesNotExist as exc:
        raise Http404(_("No such phone number, or you do not have access to this customer.")) from exc
    except (ValidationError, dialer.DialError) as exc:
        return _dial_answer(request, customer_id, error=" ".join(exc.messages))
    return _dial_answer(request, contact.customer_id, message=_("Calling… pick up your phone when it rings."))


def _posted_id(request, name):
    try:
        value = int(request.POST.get(name, ""))
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


def _dial_answer(request, customer_id, *, message="", error=""):
    """A line next to the number for htmx; without JavaScript, back to the customer with a message."""
    if request.htmx:
        return HttpResponse(
            format_html(
                '<span class="small text-{}" role="{}" data-testid="dial-status">{}</span>',
                "danger" if error else "success",
                "alert" if error else "status",
                error or message,
            )
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect("customers:detail", customer_id) if customer_id else redirect("customers:list")
