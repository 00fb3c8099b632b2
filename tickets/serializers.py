"""What a ticket looks like in the API and what a client may send. They only read and validate; the
API's views call tickets.services to write."""

from django.contrib.auth import get_user_model
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Team
from customers.serializers import TextField

from .models import Category, Priority, Ticket, TicketComment
from .services.tickets import BODY_MAX, MAX_TAGS, SUBJECT_MAX


def _one_of(choices) -> str:
    return format_lazy(_("One of: {values}."), values=", ".join(choices.values))


def _in(value, choices):
    if value not in choices.values:
        raise serializers.ValidationError(_one_of(choices))
    return value


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SlaSerializer(serializers.Serializer):
    state = serializers.CharField(help_text=_one_of(Ticket.SlaState))
    policy = serializers.CharField(allow_null=True, help_text=_("The SLA policy's name, or null."))
    first_response_due = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True)
    next_due = serializers.DateTimeField(
        allow_null=True, help_text=_("The nearest deadline not yet met (what the queue counts down to).")
    )
    paused_since = serializers.DateTimeField(
        allow_null=True, help_text=_("Set while the ticket is pending on the customer: the clocks stop.")
    )


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as the list and detail endpoints return it."""

    # Strings, not enums, in the schema: enums named "status" or "priority" in several apps make
    # drf-spectacular warn about colliding names.
    status = serializers.CharField(read_only=True, help_text=_one_of(Ticket.Status))
    priority = serializers.CharField(read_only=True, help_text=_one_of(Priority))
    source = serializers.CharField(read_only=True, help_text=_one_of(Ticket.Source))
    customer = serializers.SerializerMethodField()
    assignee = serializers.SlugRelatedField(
        read_only=True, allow_null=True, slug_field="username", help_text=_("Username, or null.")
    )
    team = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    category = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    custom_fields = serializers.DictField(read_only=True)
    origin = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    merged_into = serializers.SlugRelatedField(read_only=True, allow_null=True, slug_field="number")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "customer",
            "subject",
            "description",
            "status",
            "priority",
            "category",
            "team",
            "assignee",
            "source",
            "origin",
            "tags",
            "custom_fields",
            "sla",
            "first_responded_at",
            "solved_at",
            "closed_at",
            "merged_into",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CustomerRefSerializer)
    def get_customer(self, ticket):
        return {"id": ticket.customer_id, "name": ticket.customer.name}

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"type": {"type": "string"}, "id": {"type": "integer"}},
            "description": "The call or conversation the ticket came from, e.g. {type: call, id: 12}.",
        }
    )
    def get_origin(self, ticket):
        if ticket.origin_type_id is None:
            return None
        from django.contrib.contenttypes.models import ContentType

        return {"type": ContentType.objects.get_for_id(ticket.origin_type_id).model, "id": ticket.origin_id}

    @extend_schema_field(SlaSerializer)
    def get_sla(self, ticket):
        return {
            "state": ticket.sla_state,
            "policy": ticket.sla_policy.name if ticket.sla_policy_id else None,
            "first_response_due": ticket.first_response_due,
            "resolution_due": ticket.resolution_due,
            "next_due": ticket.sla_due,
            "paused_since": ticket.sla_paused_at,
        }


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(read_only=True, allow_null=True, slug_field="username")

    class Meta:
        model = TicketComment
        fields = ["id", "author", "body", "internal", "created_at"]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    comments = CommentSerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "comments"]
        read_only_fields = fields


class TicketCreateSerializer(serializers.Serializer):
    """What a client sends to open a ticket. Give the customer's id, or a phone number in any format."""

    customer = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text=_("The customer's id.")
    )
    phone = TextField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text=_("Instead of `customer`: the customer's phone number in any format (e.g. 0912-345-678)."),
    )
    subject = TextField(
        max_length=SUBJECT_MAX,
        error_messages={"required": _("Enter a subject."), "blank": _("Enter a subject.")},
    )
    description = TextField(required=False, allow_blank=True, max_length=BODY_MAX)
    priority = serializers.CharField(
        required=False,
        default=Priority.NORMAL,
        help_text=format_lazy(_("{choices} Default: normal."), choices=_one_of(Priority)),
    )
    source = serializers.CharField(
        required=False,
        default=Ticket.Source.WEB,
        help_text=format_lazy(_("{choices} Default: web."), choices=_one_of(Ticket.Source)),
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(active=True), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text=_("User id. Without the permission to assign others, only your own id."),
    )
    tags = serializers.ListField(child=TextField(max_length=50), required=False, max_length=MAX_TAGS)
    custom_fields = serializers.DictField(child=TextField(max_length=500, allow_blank=True), required=False)

    def validate_priority(self, value):
        return _in(value, Priority)

    def validate_source(self, value):
        return _in(value, Ticket.Source)

    def validate(self, data):
        if not data.get("customer") and not (data.get("phone") or "").strip():
            raise serializers.ValidationError({"customer": [_("Give the customer's id or phone number.")]})
        return data


class TicketListQuerySerializer(serializers.Serializer):
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=Ticket.Status.choices),
        required=False,
        help_text=_("Only these statuses; repeat the parameter for several."),
    )
    priority = serializers.CharField(required=False, help_text=_one_of(Priority))
    sla_state = serializers.ChoiceField(choices=Ticket.SlaState.choices, required=False)
    assignee = serializers.CharField(
        required=False, max_length=20, help_text=_("A user id, `me`, or `none` for unassigned tickets.")
    )
    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    q = TextField(
        required=False, allow_blank=True, max_length=100, help_text=_("Ticket number or part of the subject.")
    )

    def validate_assignee(self, value):
        if value in ("me", "none") or (value.isdigit() and len(value) <= 18):
            return value
        raise serializers.ValidationError(_("Give a user id, me or none."))
