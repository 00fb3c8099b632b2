"""The Leads page: the leads the user may see, sortable and filterable by lead score."""

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.pagination import paginate
from customers.models import Customer
from customers.permissions import customers_visible_to
from reports.scoring import reasons_display

from .forms_orders import LeadFilterForm

# Sorting by score joins the scores (INNER JOIN), so PostgreSQL can walk the score index and stop after
# a page; a lead appears there once scored: moments after it is created, and for everyone nightly.
ORDERINGS = {
    "-score": (F("score__score").desc(), F("score__customer_id").asc()),
    "score": (F("score__score").asc(), F("score__customer_id").desc()),
    "-created": (F("created_at").desc(), F("pk").desc()),
    "name": (F("name").asc(), F("pk").asc()),
}


def leads_for(user, *, q="", owner=None, source="", min_score=None, max_score=None, sort="-score"):
    queryset = customers_visible_to(user).filter(lifecycle_stage=Customer.Lifecycle.LEAD)
    if q:
        queryset = queryset.filter(name__icontains=q)
    if owner is not None:
        queryset = queryset.filter(owner_id=owner)
    if source:
        queryset = queryset.filter(source__iexact=source)
    if min_score is not None:
        queryset = queryset.filter(score__score__gte=min_score)
    if max_score is not None:
        queryset = queryset.filter(score__score__lte=max_score)
    if sort in ("-score", "score") or sort not in ORDERINGS:
        queryset = queryset.filter(score__isnull=False)
    return queryset.select_related("owner", "score").order_by(*ORDERINGS.get(sort, ORDERINGS["-score"]))


@login_required
@require_GET
def lead_list(request):
    form = LeadFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    queryset = leads_for(
        request.user,
        q=(data.get("q") or "").strip(),
        owner=getattr(data.get("owner"), "pk", None),
        source=(data.get("source") or "").strip(),
        min_score=data.get("min_score"),
        max_score=data.get("max_score"),
        sort=data.get("sort") or "-score",
    )
    page = paginate(queryset, request.GET.get("page"))
    for lead in page.items:
        score = getattr(lead, "score", None)
        lead.top_reasons = reasons_display(score.reasons)[:3] if score else []
    query = request.GET.copy()
    query.pop("page", None)
    template = "sales/lead_list.html"
    if request.htmx and request.htmx.target == "lead-table":
        template += "#lead-table"
    response = render(
        request,
        template,
        {"form": form, "page": page, "leads": page.items, "query": query.urlencode(), "filtered": bool(data)},
    )
    response["Vary"] = "HX-Request"
    return response
