"""Forecast, commission and commission-rate pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import forecast, selectors
from .models import CommissionRate
from .quote_forms import CommissionRateForm, ForecastForm


@login_required
@permission_required("sales.view_forecast", raise_exception=True)
@require_GET
def forecast_page(request):
    owners = list(forecast.forecast_owners(request.user))
    today = timezone.localdate()
    form = ForecastForm(
        request.GET or None,
        owners=forecast.forecast_owners(request.user),
        initial={"start": today.replace(day=1), "months": 3},
    )
    data = form.cleaned_data if form.is_valid() else {}
    months = forecast.months_from(data.get("start") or today, data.get("months") or 3)
    owner = data.get("owner")
    table = forecast.forecast(
        user=request.user, months=months, owner_id=owner.pk if owner else None, owners=owners
    )
    accuracy = forecast.forecast_accuracy(
        user=request.user, today=today, owner_id=owner.pk if owner else None, owners=owners
    )
    return render(
        request,
        "sales/forecast.html",
        {
            "form": form,
            "table": table,
            "accuracy": accuracy,
            "show_owner_filter": len(owners) > 1,
            "past_months": forecast.months_from(
                forecast.add_months(today.replace(day=1), -forecast.PAST_MONTHS), forecast.PAST_MONTHS
            ),
        },
    )


@login_required
@permission_required("sales.view_forecast", raise_exception=True)
@require_GET
def commission_page(request):
    """My commission this month and this quarter; managers and admins may look at a rep of theirs."""
    owners = list(forecast.forecast_owners(request.user))
    owner = request.user
    owner_pk = request.GET.get("owner", "")
    if owner_pk.isdigit() and int(owner_pk) != request.user.pk:
        owner = next((o for o in owners if o.pk == int(owner_pk)), None)
        if owner is None:
            owner = request.user
            messages.error(request, _("You may only see the commission of your own team."))
    today = timezone.localdate()
    visible = selectors.deals_visible_to(request.user)
    month_start = today.replace(day=1)
    quarter_start = forecast.quarter_start(today)
    return render(
        request,
        "sales/commission.html",
        {
            "owner": owner,
            "owners": owners if len(owners) > 1 else [],
            "month": forecast.commission(
                owner=owner, start=month_start, end=forecast.add_months(month_start, 1), deals=visible, rows=0
            ),
            "quarter": forecast.commission(
                owner=owner, start=quarter_start, end=forecast.add_months(quarter_start, 3), deals=visible
            ),
            "can_edit_rates": request.user.has_perm("sales.change_commissionrate"),
        },
    )


@login_required
@permission_required("sales.view_commissionrate", raise_exception=True)
@require_GET
def rate_list(request):
    rates = CommissionRate.objects.select_related("user", "team", "pipeline").order_by(
        "user__username", "team__name", "pipeline__name", "id"
    )
    return render(
        request,
        "sales/commission_rates.html",
        {"rates": rates, "can_edit": request.user.has_perm("sales.change_commissionrate")},
    )


@login_required
@permission_required("sales.change_commissionrate", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rate_edit(request, pk=None):
    rate = get_object_or_404(CommissionRate, pk=pk) if pk else CommissionRate()
    if pk is None and not request.user.has_perm("sales.add_commissionrate"):
        return redirect("sales:commission-rates")
    form = CommissionRateForm(request.POST or None, instance=rate)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Commission rate saved."))
        return redirect("sales:commission-rates")
    return render(request, "sales/commission_rate_form.html", {"form": form, "rate": rate if pk else None})


@login_required
@permission_required("sales.delete_commissionrate", raise_exception=True)
@require_POST
def rate_delete(request, pk):
    rate = get_object_or_404(CommissionRate, pk=pk)
    rate.delete()
    messages.success(request, _("Commission rate deleted."))
    return redirect("sales:commission-rates")
