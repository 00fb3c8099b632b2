"""Orders pages: the list of purchases the user may see, one order, and the CSV import."""

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from crm.pagination import paginate

from . import orders
from .forms_orders import OrderFilterForm, OrderImportForm
from .models import Order, OrderImport


@login_required
@permission_required("sales.view_order", raise_exception=True)
@require_GET
def order_list(request):
    form = OrderFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    queryset = (
        orders.orders_visible_to(request.user).select_related("customer").order_by("-ordered_at", "-id")
    )
    if data.get("q"):
        queryset = queryset.filter(number__istartswith=data["q"].strip())
    if data.get("channel"):
        queryset = queryset.filter(channel=data["channel"])
    if data.get("customer"):
        queryset = queryset.filter(customer_id=data["customer"])
    page = paginate(queryset, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "sales/order_list.html"
    if request.htmx and request.htmx.target == "order-table":
        template += "#order-table"
    response = render(
        request,
        template,
        {
            "form": form,
            "page": page,
            "orders": page.items,
            "query": query.urlencode(),
            "filtered": bool(data),
        },
    )
    response["Vary"] = "HX-Request"
    return response


@login_required
@permission_required("sales.view_order", raise_exception=True)
@require_GET
def order_detail(request, pk):
    order = get_object_or_404(
        orders.orders_visible_to(request.user)
        .select_related("customer", "created_by")
        .prefetch_related("items"),
        pk=pk,
    )
    return render(request, "sales/order_detail.html", {"order": order})


@login_required
@permission_required("sales.import_orders", raise_exception=True)
@require_http_methods(["GET", "POST"])
def order_import(request):
    form = OrderImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows = orders.read_csv(upload.read(orders.IMPORT_MAX_BYTES + 1))
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            result = orders.orders_import_start(actor=request.user, rows=rows, file_name=upload.name or "")
            if isinstance(result, OrderImport):
                return redirect("sales:order-import-status", pk=result.pk)
    return render(
        request,
        "sales/order_import.html",
        {"form": form, "result": result, "columns": orders.CSV_COLUMNS, "channels": Order.Channel.choices},
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )


@login_required
@permission_required("sales.import_orders", raise_exception=True)
@require_GET
def order_import_status(request, pk):
    """A background import's progress; the page asks again every two seconds until it is finished."""
    job = get_object_or_404(OrderImport.objects.defer("rows"), pk=pk, created_by=request.user)
    template = "sales/order_import_status.html"
    if request.htmx:
        template += "#import-progress"
    return render(request, template, {"job": job})
