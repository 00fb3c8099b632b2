from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Consent, ContactPoint, Customer, Interaction, Segment, SocialIdentity, Tag


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    readonly_fields = ["normalised"]


@admin.register(Customer)
class CustomerAdmin(GuardedModelAdmin):
    list_display = ["name", "kind", "lifecycle_stage", "owner", "team", "created_at"]
    list_filter = ["kind", "lifecycle_stage", "team"]
    search_fields = ["name"]
    raw_id_fields = ["organisation", "owner"]
    inlines = [ContactPointInline]
    show_full_result_count = False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]


@admin.register(SocialIdentity)
class SocialIdentityAdmin(admin.ModelAdmin):
    list_display = ["provider", "external_id", "display_name", "customer", "followed"]
    raw_id_fields = ["customer"]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["customer", "purpose", "channel", "granted", "occurred_at"]
    raw_id_fields = ["customer"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    """Read-only: the timeline is written by services.record_interaction() only."""

    list_display = ["customer", "occurred_at", "kind", "channel", "summary"]
    raw_id_fields = ["customer", "actor"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """Edit segments in the app (its rule builder validates them); here they are for looking up."""

    list_display = ["name", "kind", "owner", "team", "shared", "updated_at"]
    list_filter = ["kind", "shared"]
    raw_id_fields = ["owner"]
    readonly_fields = ["rules"]
