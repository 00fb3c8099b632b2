"""Assignment rules in the sales settings, for admins: the ordered rule list and the assignment log."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.pagination import paginate

from .forms_orders import AssignmentRuleForm
from .models import AssignmentLog, AssignmentRule
from .settings_views import settings_required


@settings_required
@require_GET
def rule_list(request):
    rules = AssignmentRule.objects.select_related("team", "user", "last_assigned").order_by("position", "id")
    return render(request, "sales/settings/assignment_rules.html", {"rules": rules})


@settings_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk=None):
    rule = get_object_or_404(AssignmentRule, pk=pk) if pk else AssignmentRule()
    if pk is None and request.method == "GET":
        last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True).first()
        rule.position = (last or 0) + 10
    form = AssignmentRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, _("Assignment rule “%(name)s” saved.") % {"name": rule.name})
        return redirect("sales:assignment-rules")
    return render(
        request, "sales/settings/assignment_rule_form.html", {"form": form, "rule": rule if pk else None}
    )


@settings_required
@require_POST
def rule_delete(request, pk):
    rule = get_object_or_404(AssignmentRule, pk=pk)
    name = rule.name
    rule.delete()
    messages.success(
        request, _("Assignment rule “%(name)s” deleted; its log entries are kept.") % {"name": name}
    )
    return redirect("sales:assignment-rules")


@settings_required
@require_POST
def rule_move(request, pk):
    """Swap the rule with its neighbour above or below (keyboard-friendly reordering)."""
    with transaction.atomic():
        rules = list(AssignmentRule.objects.select_for_update().order_by("position", "id"))
        index = next((i for i, r in enumerate(rules) if r.pk == pk), None)
        if index is None:
            return redirect("sales:assignment-rules")
        other = index - 1 if request.POST.get("direction") == "up" else index + 1
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
            for position, rule in enumerate(rules, start=1):
                if rule.position != position * 10:
                    AssignmentRule.objects.filter(pk=rule.pk).update(position=position * 10)
    return redirect("sales:assignment-rules")


@settings_required
@require_GET
def assignment_log(request):
    queryset = AssignmentLog.objects.select_related(
        "customer", "deal", "assigned_to", "previous_owner", "actor"
    ).order_by("-created_at", "-id")
    page = paginate(queryset, request.GET.get("page"), per_page=50)
    return render(request, "sales/settings/assignment_log.html", {"page": page, "entries": page.items})
