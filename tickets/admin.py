from django.contrib import admin

from .models import (
    Article,
    AssignmentRule,
    BusinessCalendar,
    CannedReply,
    Category,
    Escalation,
    EscalationRule,
    Holiday,
    SlaEvent,
    SlaPolicy,
    StatusTransition,
    Ticket,
    TicketComment,
)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """For superusers' inspection; changes go through the ticket pages (services)."""

    list_display = [
        "number",
        "subject",
        "customer",
        "status",
        "priority",
        "assignee",
        "team",
        "sla_state",
        "created_at",
    ]
    list_filter = ["status", "priority", "sla_state", "team"]
    search_fields = ["subject", "number"]
    raw_id_fields = ["customer", "assignee", "created_by", "merged_into", "followers"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TicketComment)
class TicketCommentAdmin(admin.ModelAdmin):
    list_display = ["ticket", "author", "internal", "created_at"]
    raw_id_fields = ["ticket", "author"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "is_default"]
    inlines = [HolidayInline]


admin.site.register(Category)
admin.site.register(SlaPolicy)
admin.site.register(EscalationRule)
admin.site.register(AssignmentRule)
admin.site.register(StatusTransition)


@admin.register(SlaEvent)
class SlaEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "target", "kind", "due_at", "occurred_at"]
    raw_id_fields = ["ticket"]


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ["ticket", "level", "action", "target", "notified", "fired_at"]
    raw_id_fields = ["ticket", "notified"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Articles are written and published in the app, which keeps their versions."""

    list_display = ["title", "category", "status", "published_at", "updated_at"]
    list_filter = ["status"]
    readonly_fields = ["current_version", "search_document"]

    def has_add_permission(self, request):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "shortcut", "owner", "team", "shared"]
    raw_id_fields = ["owner"]
