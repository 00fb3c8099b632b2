from django.contrib import admin

from .models import AgentStatus, Call, CtiEvent, Disposition


@admin.register(Disposition)
class DispositionAdmin(admin.ModelAdmin):
    list_display = ["name", "order", "active"]
    list_editable = ["order", "active"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "call_id",
        "direction",
        "state",
        "from_number",
        "customer",
        "agent",
        "ringing_at",
        "talk_seconds",
    ]
    list_filter = ["state", "direction"]
    raw_id_fields = ["customer", "agent", "timeline_entry"]
    search_fields = ["call_id", "from_number", "to_number"]


@admin.register(CtiEvent)
class CtiEventAdmin(admin.ModelAdmin):
    list_display = ["call_id", "event", "occurred_at", "source", "received_at"]
    search_fields = ["call_id"]


admin.site.register(AgentStatus)
