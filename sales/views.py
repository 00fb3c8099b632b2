import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models import AccessLog
from crm.pagination import paginate
from crm.requests import client_ip
from customers import selectors as customer_selectors
from customers.permissions import customers_visible_to

from . import quotes, selectors, services
from .forms import (
    CompleteForm,
    DealFilterForm,
    DealForm,
    LineItemForm,
    MoveForm,
    QuickEditForm,
    ShareForm,
    TaskForm,
)
from .models import Deal, DealLineItem, LostReason, Stage, Task

NOT_FOUND = gettext_lazy("No deal found, or you do not have access to it.")


def _attach_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _visible_deal(request, pk, queryset=None) -> Deal:
    try:
        if queryset is not None:
            return queryset.get(pk=pk)
        return selectors.deal_detail(user=request.user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404(NOT_FOUND) from None


def _visible_task(request, pk) -> Task:
    return get_object_or_404(
        selectors.tasks_visible_to(request.user).select_related("customer", "deal", "assignee", "cadence"),
        pk=pk,
    )


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _filters_from(form) -> selectors.DealFilters:
    data = form.cleaned_data if form.is_valid() else {}
    return selectors.DealFilters(
        owner=getattr(data.get("owner"), "pk", None),
        team=getattr(data.get("team"), "pk", None),
        close_month=data.get("close_month"),
        tag=getattr(data.get("tag"), "pk", None),
        q=(data.get("q") or "").strip(),
        status=data.get("status") or "",
    )


# The board -------------------------------------------------------------------------------------

_PK = 2_147_483_647
CARD_LINKS = (
    ("url", "sales:deal"),
    ("move_url", "sales:deal-move"),
    ("quick_edit_url", "sales:deal-quick-edit"),
)


def _cards(deals):
    """Give each card its links, from one reverse() per kind of link: a board shows hundreds of cards."""
    templates = [(attr, reverse(name, args=[_PK]).replace(str(_PK), "{}")) for attr, name in CARD_LINKS]
    for deal in deals:
        for attr, template in templates:
            setattr(deal, attr, template.format(deal.pk))
        if not hasattr(deal, "rotting"):
            deal.rotting = deal.is_rotting()
    return deals


def _pipeline_or_default(pk):
    pipelines = list(selectors.pipelines_for_board())
    if pk is None:
        return (pipelines[0] if pipelines else None), pipelines
    pipeline = next((p for p in pipelines if p.pk == pk), None)
    if pipeline is None:
        raise Http404(_("No such pipeline."))
    return pipeline, pipelines


@login_required
@permission_required("sales.view_deal", raise_exception=True)
@require_GET
def board(request, pk=None):
    """The pipeline as a kanban: one column per stage, totals and weighted totals per column."""
    pipeline, pipelines = _pipeline_or_default(pk)
    form = DealFilterForm(request.GET or None)
    filters = _filters_from(form)
    query = request.GET.copy()
    context = {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "form": form,
        "query": query.urlencode(),
        "filtered": any([filters.owner, filters.team, filters.close_month, filters.tag, filters.q]),
        "now": timezone.now(),
        "can_move": request.user.has_perm("sales.change_deal"),
    }
    if pipeline is not None:
        context["board"] = selectors.board(user=request.user, pipeline=pipeline, filters=filters)
        for column in context["board"].columns:
            _cards(column.deals)
    template = "sales/board.html"
    if request.htmx and request.htmx.target == "board":
        template += "#board"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@login_required
@permission_required("sales.view_deal", raise_exception=True)
@require_GET
def board_column(request, pk, stage_pk):
    """A column's next cards ("Load more")."""
    pipeline, _pipelines = _pipeline_or_default(pk)
    stage = get_object_or_404(Stage, pk=stage_pk, pipeline=pipeline)
    try:
        offset = max(0, min(int(request.GET.get("offset", 0)), 100_000))
    except ValueError:
        offset = 0
    filters = _filters_from(DealFilterForm(request.GET or None))
    deals, has_more = selectors.column_cards(
        user=request.user, pipeline=pipeline, stage=stage, filters=filters, offset=offset
    )
    _cards(deals)
    query = request.GET.copy()
    query.pop("offset", None)
    return render(
        request,
        "sales/board.html#column-cards",
        {
            "column": {"stage": stage, "deals": deals, "has_more": has_more},
            "pipeline": pipeline,
            "offset": offset + len(deals),
            "query": query.urlencode(),
            "now": timezone.now(),
            "can_move": request.user.has_perm("sales.change_deal"),
        },
    )


def _board_update(request, deal: Deal, *, error: str = "", status: int = 200, moved_from=None):
    """What a card change sends back: the card in its column, fresh column totals, a status line."""
    deal = selectors.deal_detail(user=request.user, pk=deal.pk) if _still_visible(request, deal) else None
    if deal is not None:
        _cards([deal])
    pipeline = deal.pipeline if deal else None
    form = DealFilterForm(request.GET or None)
    filters = _filters_from(form)
    context = {
        "deal": deal,
        "error": error,
        "now": timezone.now(),
        "can_move": request.user.has_perm("sales.change_deal"),
    }
    if pipeline is not None:
        context["columns"] = _column_heads(request, pipeline, filters)
        context["board_totals"] = _board_sums(context["columns"])
    response = render(request, "sales/board.html#card-update", context, status=status)
    return response


def _still_visible(request, deal) -> bool:
    return selectors.deals_visible_to(request.user).filter(pk=deal.pk).exists()


def _column_heads(request, pipeline, filters):
    totals = selectors.board_totals(user=request.user, pipeline=pipeline, filters=filters)
    return [
        {"stage": stage, **totals.get(stage.pk, {"count": 0, "totals": {}, "weighted": {}})}
        for stage in pipeline.stages.all()
    ]


def _board_sums(columns):
    count, totals, weighted = 0, {}, {}
    for column in columns:
        if column["stage"].is_closed:
            continue
        count += column["count"]
        for currency, amount in column["totals"].items():
            totals[currency] = totals.get(currency, 0) + amount
        for currency, amount in column["weighted"].items():
            weighted[currency] = weighted.get(currency, 0) + amount
    return {"count": count, "totals": totals, "weighted": weighted}


@login_required
@permission_required("sales.change_deal", raise_exception=True)
@require_http_methods(["GET", "POST"])
def deal_move(request, pk):
    """Drag and drop or the card's move menu: save the new stage unless the deal changed meanwhile.

    GET returns the card's move menu, loaded when it is first opened (the board stays light).
    """
    deal = _visible_deal(request, pk)
    if request.method == "GET":
        return render(
            request,
            "sales/board.html#move-menu",
            {
                "deal": deal,
                "stages": list(deal.pipeline.stages.all()),
                "lost_reasons": list(LostReason.objects.filter(active=True)),
                "next": _safe_next(request, reverse("sales:pipeline-board", args=[deal.pipeline_id])),
            },
        )
    form = MoveForm(request.POST)
    if not form.is_valid():
        error = _("Choose a stage to move the deal to.")
        if request.htmx:
            return _board_update(request, deal, error=error, status=400)
        messages.error(request, error)
        return redirect(_safe_next(request, reverse("sales:deal", args=[deal.pk])))
    try:
        deal = services.deal_move(
            deal=deal,
            stage=form.cleaned_data["stage"],
            expected_version=form.cleaned_data["version"],
            actor=request.user,
            lost_reason=form.cleaned_data["lost_reason"],
        )
    except services.DealConflict as conflict:
        if request.htmx:
            return _board_update(request, conflict.deal, error=conflict.message, status=409)
        messages.error(request, conflict.message)
    else:
        message = _("“%(title)s” moved to %(stage)s.") % {"title": deal.title, "stage": deal.stage.name}
        if request.htmx:
            response = _board_update(request, deal)
            response["HX-Trigger"] = "dealMoved"
            return response
        messages.success(request, message)
    return redirect(_safe_next(request, reverse("sales:deal", args=[deal.pk])))


@login_required
@permission_required("sales.view_deal", raise_exception=True)
@require_GET
def deal_card(request, pk):
    deal = _cards([_visible_deal(request, pk)])[0]
    return render(
        request,
        "sales/board.html#card",
        {
            "deal": deal,
            "now": timezone.now(),
            "can_move": request.user.has_perm("sales.change_deal"),
        },
    )


@login_required
@permission_required("sales.change_deal", raise_exception=True)
@require_http_methods(["GET", "POST"])
def deal_quick_edit(request, pk):
    deal = _visible_deal(request, pk)
    form = QuickEditForm(request.POST or None, instance=Deal.objects.get(pk=deal.pk))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = services.deal_update(
                deal=deal,
                actor=request.user,
                expected_version=data["version"],
                title=data["title"],
                amount=data["amount"],
                expected_close_date=data["expected_close_date"],
                owner=data["owner"],
            )
        except services.DealConflict as conflict:
            return _board_update(request, conflict.deal, error=conflict.message, status=409)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            return _board_update(request, deal)
    return render(request, "sales/board.html#quick-edit", {"deal": deal, "form": form})


# The list --------------------------------------------------------------------------------------


@login_required
@permission_required("sales.view_deal", raise_exception=True)
@require_GET
def deal_list(request):
    form = DealFilterForm(request.GET or None)
    filters = _filters_from(form)
    data = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.deal_list(
        user=request.user, filters=filters, pipeline=data.get("pipeline"), sort=data.get("sort") or "newest"
    )
    page = paginate(queryset, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "deals": page.items,
        "query": query.urlencode(),
        "can_export": request.user.has_perm("sales.export_deals"),
    }
    template = "sales/deal_list.html"
    if request.htmx and request.htmx.target == "deal-table":
        template += "#deal-table"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


# Larger exports belong in a background job with progress (see DESIGN.md); the list is cut here.
EXPORT_MAX_ROWS = 100_000


EXPORT_COLUMNS = [
    ("id", lambda d: d.pk),
    ("title", lambda d: d.title),
    ("customer", lambda d: d.customer.name),
    ("pipeline", lambda d: d.pipeline.name),
    ("stage", lambda d: d.stage.name),
    ("status", lambda d: d.status),
    ("amount", lambda d: d.amount),
    ("currency", lambda d: d.currency),
    ("probability", lambda d: d.stage.probability),
    ("expected_close_date", lambda d: d.expected_close_date or ""),
    ("owner", lambda d: d.owner or ""),
    ("team", lambda d: d.team or ""),
    ("source", lambda d: d.source),
    ("contract_status", lambda d: d.contract_status),
    ("created_at", lambda d: timezone.localtime(d.created_at).isoformat(timespec="minutes")),
]


def _csv_cell(value):
    """Spreadsheets run cells starting with = + - @ as formulas: neutralise them."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
@permission_required("sales.export_deals", raise_exception=True)
@require_GET
def deal_export(request):
    """The list as it is filtered and sorted, as CSV; the export is recorded in the access log."""
    form = DealFilterForm(request.GET or None)
    filters = _filters_from(form)
    data = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.deal_list(
        user=request.user, filters=filters, pipeline=data.get("pipeline"), sort=data.get("sort") or "newest"
    )
    AccessLog.objects.create(
        user=request.user,
        action=AccessLog.Action.EXPORT,
        content_type=ContentType.objects.get_for_model(Deal),
        field="deals.csv",
        count=queryset.count(),
        filters={
            key[:50]: value.replace("\x00", "")[:200] for key, value in request.GET.items() if key != "page"
        },
        ip_address=client_ip(request),
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response.write("\ufeff")  # so that spreadsheet programs read the file as UTF-8 (Chinese names)
    writer = csv.writer(response)
    writer.writerow([name for name, _getter in EXPORT_COLUMNS])
    for deal in queryset[:EXPORT_MAX_ROWS].iterator(chunk_size=2000):
        writer.writerow([_csv_cell(getter(deal)) for _name, getter in EXPORT_COLUMNS])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="deals-{stamp}.csv"'
    return response


# One deal --------------------------------------------------------------------------------------


@login_required
@permission_required("sales.view_deal", raise_exception=True)
@require_GET
def deal_detail(request, pk):
    deal = _visible_deal(request, pk)
    context = {
        "deal": deal,
        "stages": list(deal.pipeline.stages.all()),
        "line_items": list(deal.line_items.select_related("product")),
        "line_item_form": LineItemForm(),
        "tasks": selectors.deal_tasks(user=request.user, deal=deal),
        "quotes": quotes.deal_quotes(user=request.user, deal=deal),
        "timeline": selectors.deal_timeline(deal=deal),
        "share_form": ShareForm() if request.user.has_perm("sales.share_deal") else None,
        "now": timezone.now(),
        "can_change": request.user.has_perm("sales.change_deal"),
    }
    return render(request, "sales/deal_detail.html", context)


def _deal_form_save(request, form, deal=None):
    data = form.cleaned_data
    fields = {
        "title": data["title"],
        "amount": data["amount"],
        "currency": data["currency"],
        "expected_close_date": data["expected_close_date"],
        "owner": data["owner"],
        "team": data["team"],
        "source": data["source"],
        "contract_status": data["contract_status"],
        "after_sale_follow_up_on": data["after_sale_follow_up_on"],
        "lost_reason": data["lost_reason"],
    }
    if deal is None:
        return services.deal_create(
            actor=request.user,
            customer=data["customer"],
            stage=data["stage"],
            tags=data["tag_names"],
            **fields,
        )
    return services.deal_update(
        deal=deal,
        actor=request.user,
        expected_version=data["version"] or deal.version,
        stage=data["stage"],
        tags=data["tag_names"],
        lost_note=data["lost_note"],
        **fields,
    )


@login_required
@permission_required("sales.add_deal", raise_exception=True)
@require_http_methods(["GET", "POST"])
def deal_create(request):
    initial = {
        "owner": request.user.pk,
        "team": request.user.team_id,
        "currency": services.settings_currency(),
    }
    customer_pk = request.GET.get("customer", "")
    if customer_pk.isdigit():
        customer = customers_visible_to(request.user).filter(pk=int(customer_pk)).first()
        if customer is not None:
            initial["customer"] = customer.pk
            initial["title"] = customer.name
    stage_pk = request.GET.get("stage", "")
    if stage_pk.isdigit():
        initial["stage"] = int(stage_pk)
    form = DealForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            deal = _deal_form_save(request, form)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Deal “%(title)s” created.") % {"title": deal.title})
            return redirect("sales:deal", pk=deal.pk)
    return render(request, "sales/deal_form.html", {"form": form, "creating": True})


@login_required
@permission_required("sales.change_deal", raise_exception=True)
@require_http_methods(["GET", "POST"])
def deal_edit(request, pk):
    deal = _visible_deal(request, pk)
    form = DealForm(request.POST or None, instance=Deal.objects.get(pk=deal.pk), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            deal = _deal_form_save(request, form, deal)
        except services.DealConflict as conflict:
            form.add_error(None, conflict.message)
            form.data = form.data.copy()
            form.data["version"] = conflict.deal.version
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("sales:deal", pk=deal.pk)
    return render(request, "sales/deal_form.html", {"form": form, "deal": deal, "creating": False})


@login_required
@permission_required("sales.delete_deal", raise_exception=True)
@require_POST
def deal_delete(request, pk):
    deal = _visible_deal(request, pk)
    services.deal_delete(deal=deal, actor=request.user)
    messages.success(request, _("Deal “%(title)s” deleted.") % {"title": deal.title})
    return redirect("sales:board")


@login_required
@permission_required("sales.share_deal", raise_exception=True)
@require_POST
def deal_share(request, pk):
    deal = _visible_deal(request, pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        services.deal_share(
            deal=deal, user=form.cleaned_data["user"], actor=request.user, revoke="revoke" in request.POST
        )
        messages.success(request, _("Sharing updated."))
    else:
        messages.error(request, _("Choose a user to share with."))
    return redirect("sales:deal", pk=deal.pk)


@login_required
@permission_required("sales.change_deal", raise_exception=True)
@require_POST
def line_item_add(request, pk):
    deal = _visible_deal(request, pk)
    form = LineItemForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.line_item_add(
                deal=deal,
                actor=request.user,
                product=data["product"],
                description=data["description"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Line item added."))
            return redirect("sales:deal", pk=deal.pk)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return redirect("sales:deal", pk=deal.pk)


@login_required
@permission_required("sales.change_deal", raise_exception=True)
@require_POST
def line_item_remove(request, pk, item_pk):
    deal = _visible_deal(request, pk)
    item = get_object_or_404(DealLineItem, pk=item_pk, deal=deal)
    services.line_item_remove(item=item, actor=request.user)
    messages.success(request, _("Line item removed."))
    return redirect("sales:deal", pk=deal.pk)


@login_required
@permission_required("sales.add_deal", raise_exception=True)
@require_GET
def customer_options(request):
    """Options for the deal form's customer field: the visible customers matching the search."""
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    customers = []
    if q:
        customers = list(customer_selectors.customer_list(user=request.user, q=q)[:20])
    return render(request, "sales/deal_form.html#customer-options", {"customers": customers, "q": q})


# Tasks -----------------------------------------------------------------------------------------


@login_required
@permission_required("sales.view_task", raise_exception=True)
@require_GET
def my_day(request):
    day = selectors.my_day(user=request.user)
    return render(
        request,
        "sales/my_day.html",
        {"day": day, "now": timezone.now(), "complete_form": CompleteForm()},
    )


def _task_initial(request) -> dict:
    initial = {"assignee": request.user.pk}
    deal_pk = request.GET.get("deal", "")
    if deal_pk.isdigit():
        deal = (
            selectors.deals_visible_to(request.user)
            .select_related("customer")
            .filter(pk=int(deal_pk))
            .first()
        )
        if deal is not None:
            initial.update(deal=deal, customer=deal.customer)
    customer_pk = request.GET.get("customer", "")
    if "customer" not in initial and customer_pk.isdigit():
        customer = customers_visible_to(request.user).filter(pk=int(customer_pk)).first()
        if customer is not None:
            initial["customer"] = customer
    return initial


def _task_remind_at(form):
    return form.cleaned_data["due_at"] if form.cleaned_data.get("remind") else None


@login_required
@permission_required("sales.add_task", raise_exception=True)
@require_http_methods(["GET", "POST"])
def task_create(request):
    about = _task_initial(request if request.method == "GET" else _PostAsGet(request))
    form = TaskForm(request.POST or None, initial={"assignee": request.user.pk})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = services.task_create(
                actor=request.user,
                title=data["title"],
                due_at=data["due_at"],
                assignee=data["assignee"],
                customer=about.get("customer"),
                deal=about.get("deal"),
                priority=data["priority"],
                note=data["note"],
                cadence=data["cadence"],
                remind_at=_task_remind_at(form),
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Task “%(title)s” created.") % {"title": task.title})
            return redirect(_safe_next(request, _task_home(task)))
    return render(
        request,
        "sales/task_form.html",
        {"form": form, "about": about, "creating": True, "next": _safe_next(request, "")},
    )


class _PostAsGet:
    """The customer and deal a new task is about come from the form's hidden fields when posting."""

    def __init__(self, request):
        self.user = request.user
        self.GET = request.POST


def _task_home(task: Task) -> str:
    if task.deal_id:
        return reverse("sales:deal", args=[task.deal_id])
    return reverse("sales:my-day")


@login_required
@permission_required("sales.change_task", raise_exception=True)
@require_http_methods(["GET", "POST"])
def task_edit(request, pk):
    task = _visible_task(request, pk)
    form = TaskForm(request.POST or None, instance=Task.objects.get(pk=task.pk))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.task_update(
                task=task,
                actor=request.user,
                title=data["title"],
                due_at=data["due_at"],
                assignee=data["assignee"],
                priority=data["priority"],
                note=data["note"],
                cadence=data["cadence"],
                remind_at=_task_remind_at(form),
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(_safe_next(request, _task_home(task)))
    return render(
        request,
        "sales/task_form.html",
        {
            "form": form,
            "task": task,
            "about": {"customer": task.customer, "deal": task.deal},
            "creating": False,
            "next": _safe_next(request, ""),
        },
    )


@login_required
@permission_required("sales.change_task", raise_exception=True)
@require_POST
def task_complete(request, pk):
    task = _visible_task(request, pk)
    form = CompleteForm(request.POST or {"outcome": Task.Outcome.DONE})
    if not form.is_valid():
        if request.htmx:
            return HttpResponse(_("Choose done or no answer."), status=400)
        messages.error(request, _("Choose done or no answer."))
        return redirect(_safe_next(request, reverse("sales:my-day")))
    completion = services.task_complete(
        task=task, actor=request.user, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
    )
    if request.htmx:
        return render(
            request,
            "sales/my_day.html#task-done",
            {"task": completion.task, "next_task": completion.next_task, "now": timezone.now()},
        )
    messages.success(request, _("Task “%(title)s” done.") % {"title": task.title})
    if completion.next_task is not None:
        messages.info(
            request,
            _("Next attempt scheduled for %(when)s.")
            % {"when": timezone.localtime(completion.next_task.due_at).strftime("%Y-%m-%d %H:%M")},
        )
    return redirect(_safe_next(request, reverse("sales:my-day")))


@login_required
@permission_required("sales.change_task", raise_exception=True)
@require_POST
def task_take(request, pk):
    task = _visible_task(request, pk)
    try:
        services.task_take(task=task, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The task is yours now."))
    return redirect(_safe_next(request, reverse("sales:my-day")))


@login_required
@permission_required("sales.delete_task", raise_exception=True)
@require_POST
def task_delete(request, pk):
    task = _visible_task(request, pk)
    home = _task_home(task)
    services.task_delete(task=task, actor=request.user)
    messages.success(request, _("Task deleted."))
    return redirect(_safe_next(request, home))
