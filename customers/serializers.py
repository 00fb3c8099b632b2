"""Serializers of the customers API: what a customer and its timeline look like in JSON, and what
a client may send. They only read and validate; the API's views call `customers.services` to write.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Team

from . import selectors
from .models import ContactPoint, Customer, Interaction
from .normalise import email_normalise, mask_email, mask_phone, phone_display, phone_normalise
from .permissions import customers_visible_to

MAX_CONTACTS = 20
MAX_TAGS = 50
TAG_MAX_LENGTH = 50
MAX_ATTRIBUTE_DEPTH = 10


def _is_storable(text: str) -> bool:
    """PostgreSQL stores neither NUL characters nor unpaired surrogates (which JSON escapes allow)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_unpaired_surrogates(value):
    if isinstance(value, str) and "\x00" not in value and not _is_storable(value):
        raise serializers.ValidationError(_("Remove the invalid characters from this text."))


class TextField(serializers.CharField):
    """A CharField that refuses text the database cannot store, instead of failing with a server error.

    DRF's CharField already refuses NUL characters; JSON escapes can still carry unpaired surrogates.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(_reject_unpaired_surrogates)


# Reading ---------------------------------------------------------------------------------------


class PhoneSerializer(serializers.Serializer):
    value = serializers.CharField(
        help_text=_(
            "International format, e.g. +886 912 345 678; masked (+886 ••• ••• 678) without permission."
        )
    )
    extension = serializers.CharField(help_text=_("Empty when masked."))
    primary = serializers.BooleanField()


class EmailSerializer(serializers.Serializer):
    value = serializers.CharField(help_text=_("Masked (w•••@example.com) without permission."))
    primary = serializers.BooleanField()


class CustomerSerializer(serializers.ModelSerializer):
    """A customer as every endpoint returns it. Contacts are masked unless the context says otherwise."""

    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    phones = serializers.SerializerMethodField()
    emails = serializers.SerializerMethodField()
    custom_attributes = serializers.DictField(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "kind",
            "organisation",
            "owner",
            "team",
            "lifecycle_stage",
            "source",
            "tags",
            "phones",
            "emails",
            "custom_attributes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _reveal(self) -> bool:
        return self.context.get("reveal_contacts", False)

    @extend_schema_field(PhoneSerializer(many=True))
    def get_phones(self, customer):
        reveal = self._reveal()
        return [
            {
                "value": phone_display(point.normalised) if reveal else mask_phone(point.normalised),
                "extension": point.extension if reveal else "",
                "primary": point.is_primary,
            }
            for point in _points(customer, ContactPoint.Kind.PHONE)
        ]

    @extend_schema_field(EmailSerializer(many=True))
    def get_emails(self, customer):
        reveal = self._reveal()
        return [
            {"value": point.value if reveal else mask_email(point.normalised), "primary": point.is_primary}
            for point in _points(customer, ContactPoint.Kind.EMAIL)
        ]


def _points(customer, kind):
    """The customer's contacts of one kind, from the prefetched rows (no query)."""
    return [point for point in customer.contact_points.all() if point.kind == kind]


class TimelineEntrySerializer(serializers.ModelSerializer):
    # A string, not an enum, in the schema: two enums named "kind" (this and Customer.kind) make
    # drf-spectacular warn until settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] names them.
    kind = serializers.CharField(
        read_only=True, help_text=format_lazy(_("One of: {kinds}."), kinds=", ".join(Interaction.Kind.values))
    )
    actor = serializers.SlugRelatedField(
        read_only=True,
        allow_null=True,
        slug_field="username",
        help_text=_("Username of who did it; null for the system."),
    )

    class Meta:
        model = Interaction
        fields = ["id", "occurred_at", "kind", "channel", "summary", "actor", "data"]
        read_only_fields = fields


class TimelinePageSerializer(serializers.Serializer):
    results = TimelineEntrySerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text=_("The next (older) page, or null on the last."))


class CustomerListQuerySerializer(serializers.Serializer):
    q = TextField(
        required=False,
        allow_blank=True,
        help_text=_("Search: part of a name, a phone number in any format, an e-mail address or a tag name."),
    )
    phone = TextField(
        required=False,
        allow_blank=True,
        help_text=_(
            "Exact phone number in any format (0912-345-678, +886 912 345 678, 886912345678). "
            "For agents, finding a caller this way opens the caller's profile to them for a while."
        ),
    )


class TimelineQuerySerializer(serializers.Serializer):
    cursor = TextField(
        required=False, help_text=_("The cursor of the page to fetch, from a previous `next`.")
    )
    kind = serializers.ListField(
        child=serializers.ChoiceField(choices=Interaction.Kind.choices),
        required=False,
        help_text=_("Only entries of these kinds; repeat the parameter for several."),
    )
    channel = serializers.ListField(
        child=serializers.ChoiceField(choices=Interaction.Channel.choices),
        required=False,
        help_text=_("Only entries on these channels; repeat the parameter for several."),
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    def validate_cursor(self, value):
        position = selectors.decode_cursor(value) if value else None
        if value and (position is None or position[0].tzinfo is None or not 0 < position[1] < 2**63):
            raise serializers.ValidationError(_("This cursor is not valid; use the `next` link of a page."))
        return value


# Writing ---------------------------------------------------------------------------------------


class CustomerWriteSerializer(serializers.Serializer):
    """What a client sends to create or change a customer. Only validates: the view calls the services."""

    name = TextField(
        max_length=200,
        error_messages={
            "required": _("Enter the customer's name."),
            "blank": _("Enter the customer's name."),
        },
    )
    kind = serializers.ChoiceField(choices=Customer.Kind.choices, required=False)
    organisation = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.none(),
        required=False,
        allow_null=True,
        help_text=_("Id of an organisation the customer belongs to."),
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text=_("User id; on create, left out: the assignment rules decide, else you."),
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("Team id; on create, defaults to the owner's team."),
    )
    lifecycle_stage = serializers.ChoiceField(choices=Customer.Lifecycle.choices, required=False)
    source = TextField(max_length=100, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=TextField(allow_blank=True),
        required=False,
        max_length=MAX_TAGS,
        help_text=_("Tag names; missing tags are created. On update, replaces the customer's tags."),
    )
    custom_attributes = serializers.DictField(
        required=False, help_text=_("An object of names and values. On update, replaces the stored one.")
    )
    phones = serializers.ListField(
        child=TextField(allow_blank=True),
        required=False,
        max_length=MAX_CONTACTS,
        help_text=_(
            "Phone numbers in any format, e.g. 0912-345-678 or (02)2345-6789#12. On update, numbers the "
            "customer does not have yet are added; none are removed."
        ),
    )
    emails = serializers.ListField(
        child=TextField(allow_blank=True),
        required=False,
        max_length=MAX_CONTACTS,
        help_text=_("E-mail addresses. On update, addresses the customer does not have yet are added."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Only organisations the user can see: linking must not reveal which others exist.
            self.fields["organisation"].queryset = customers_visible_to(request.user).filter(
                kind=Customer.Kind.ORGANISATION
            )

    def validate_phones(self, values):
        return _validated_contacts(values, phone_normalise)

    def validate_emails(self, values):
        return _validated_contacts(values, email_normalise)

    def validate_tags(self, values):
        names, seen = [], set()
        for name in (value.strip() for value in values):
            if len(name) > TAG_MAX_LENGTH:
                raise serializers.ValidationError(
                    _("A tag can be at most %(max)d characters.") % {"max": TAG_MAX_LENGTH}
                )
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
        return names

    def validate_custom_attributes(self, value):
        if _json_too_deep(value):
            raise serializers.ValidationError(
                _("Nest values at most %(depth)d levels deep.") % {"depth": MAX_ATTRIBUTE_DEPTH}
            )
        if not _json_is_storable(value):
            raise serializers.ValidationError(_("Remove the invalid characters from this text."))
        return value

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", Customer.Kind.PERSON))
        organisation = attrs.get("organisation", getattr(self.instance, "organisation", None))
        if organisation is not None and kind == Customer.Kind.ORGANISATION:
            raise serializers.ValidationError(
                {"organisation": _("An organisation cannot belong to another organisation.")}
            )
        if organisation is not None and self.instance is not None and organisation.pk == self.instance.pk:
            raise serializers.ValidationError({"organisation": _("A customer cannot belong to itself.")})
        return attrs


def _validated_contacts(values, normalise):
    """All the values' errors at once, as one flat list under the field; blank lines are dropped."""
    values = [value.strip() for value in values if value.strip()]
    errors = []
    for value in values:
        try:
            normalise(value)
        except DjangoValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise serializers.ValidationError(errors)
    return values


def _json_too_deep(value) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        if children and depth > MAX_ATTRIBUTE_DEPTH:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _json_is_storable(value) -> bool:
    if isinstance(value, str):
        return _is_storable(value)
    if isinstance(value, dict):
        return all(_is_storable(key) and _json_is_storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_json_is_storable(item) for item in value)
    return True
