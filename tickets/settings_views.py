"""Ticket settings for admins: categories, SLA policies, business calendars and holidays, escalation
levels, assignment rules and status transitions. Every view needs tickets.configure_tickets."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .forms import (
    AssignmentRuleForm,
    BusinessCalendarForm,
    CategoryForm,
    EscalationRuleForm,
    HolidayForm,
    SlaPolicyForm,
    TransitionsForm,
)
from .models import AssignmentRule, BusinessCalendar, Category, EscalationRule, Holiday, SlaPolicy, Ticket
from .views import permission

configure = permission("tickets.configure_tickets")

SECTIONS = {
    "categories": (Category, CategoryForm, gettext_lazy("Categories"), gettext_lazy("category")),
    "sla": (SlaPolicy, SlaPolicyForm, gettext_lazy("SLA policies"), gettext_lazy("SLA policy")),
    "calendars": (
        BusinessCalendar,
        BusinessCalendarForm,
        gettext_lazy("Calendars"),
        gettext_lazy("calendar"),
    ),
    "escalations": (
        EscalationRule,
        EscalationRuleForm,
        gettext_lazy("Escalation"),
        gettext_lazy("escalation rule"),
    ),
    "assignment": (
        AssignmentRule,
        AssignmentRuleForm,
        gettext_lazy("Assignment"),
        gettext_lazy("assignment rule"),
    ),
}
# Rows that tickets point at are switched off rather than deleted.
DELETABLE = {"escalations", "assignment"}


def _rows(section):
    if section == "categories":
        counts = dict(Category.objects.annotate(n=Count("tickets")).values_list("pk", "n"))
        return [(node, counts.get(node.category.pk, 0)) for node in selectors.category_tree()]
    if section == "sla":
        return list(
            SlaPolicy.objects.select_related("category", "calendar").order_by("-active", "name", "id")
        )
    if section == "calendars":
        return list(
            BusinessCalendar.objects.annotate(holiday_count=Count("holidays")).order_by("-is_default", "name")
        )
    if section == "escalations":
        return list(EscalationRule.objects.select_related("policy", "assign_to", "assign_team"))
    return list(AssignmentRule.objects.select_related("team", "last_assignee"))


@configure
def settings_list(request, section="categories"):
    if section not in SECTIONS:
        section = "categories"
    _model, _form, title, _noun = SECTIONS[section]
    return render(
        request,
        "tickets/settings/list.html",
        {"section": section, "title": title, "rows": _rows(section), "deletable": section in DELETABLE},
    )


@configure
@require_http_methods(["GET", "POST"])
def settings_edit(request, section, pk=None):
    if section not in SECTIONS:
        return redirect("tickets:settings")
    model, form_class, title, noun = SECTIONS[section]
    instance = get_object_or_404(model, pk=pk) if pk is not None else model()
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(actor=request.user, instance=form.save(commit=False))
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Saved."))
            if section == "calendars" and pk is None:
                return redirect("tickets:settings-edit", section=section, pk=form.instance.pk)
            return redirect("tickets:settings-section", section=section)
    holidays = list(instance.holidays.all()) if section == "calendars" and instance.pk else []
    return render(
        request,
        "tickets/settings/form.html",
        {
            "section": section,
            "title": title,
            "noun": noun,
            "form": form,
            "instance": instance if instance.pk else None,
            "holidays": holidays,
            "holiday_form": HolidayForm() if section == "calendars" and instance.pk else None,
        },
        status=400 if form.errors else 200,
    )


@configure
@require_POST
def settings_delete(request, section, pk):
    if section not in DELETABLE:
        return redirect("tickets:settings")
    model = SECTIONS[section][0]
    services.settings_delete(actor=request.user, instance=get_object_or_404(model, pk=pk))
    messages.success(request, _("Deleted."))
    return redirect("tickets:settings-section", section=section)


@configure
@require_POST
def holiday_add(request, pk):
    calendar = get_object_or_404(BusinessCalendar, pk=pk)
    form = HolidayForm(request.POST)
    if form.is_valid():
        try:
            services.holiday_add(actor=request.user, calendar=calendar, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Holiday added."))
    else:
        messages.error(request, _("Give the holiday a date and a name."))
    return redirect("tickets:settings-edit", section="calendars", pk=pk)


@configure
@require_POST
def holiday_delete(request, pk):
    holiday = get_object_or_404(Holiday, pk=pk)
    services.settings_delete(actor=request.user, instance=holiday)
    messages.success(request, _("Holiday removed."))
    return redirect("tickets:settings-edit", section="calendars", pk=holiday.calendar_id)


@configure
@require_http_methods(["GET", "POST"])
def transitions(request):
    form = TransitionsForm(request.POST or None, current=selectors.allowed_transitions())
    if request.method == "POST" and form.is_valid():
        try:
            services.transitions_set(actor=request.user, pairs=form.pairs())
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Status changes saved."))
            return redirect("tickets:settings-transitions")
    return render(
        request,
        "tickets/settings/transitions.html",
        {"section": "transitions", "form": form, "statuses": Ticket.Status.choices},
        status=400 if form.errors else 200,
    )
