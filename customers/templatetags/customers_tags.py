from django import template

from crm.templatetags.crm_tags import add_class

from ..models import ContactPoint
from ..normalise import mask_email, mask_phone

register = template.Library()

KIND_ICONS = {
    "note": "sticky",
    "call": "telephone",
    "message_in": "chat-left-text",
    "message_out": "reply",
    "follow": "person-plus",
    "unfollow": "person-dash",
    "postback": "hand-index",
    "ticket": "life-preserver",
    "task": "check2-square",
    "deal": "briefcase",
    "quote": "file-earmark-text",
    "order": "bag",
    "broadcast": "megaphone",
    "consent": "shield-check",
    "system": "pencil",
}


@register.filter
def add_select(bound_field):
    return add_class(bound_field, "form-select form-select-sm")


@register.filter
def masked(contact_point):
    """A contact value as users without the contact-details permission see it."""
    if contact_point.kind == ContactPoint.Kind.PHONE:
        return mask_phone(contact_point.normalised)
    if contact_point.kind == ContactPoint.Kind.EMAIL:
        return mask_email(contact_point.normalised)
    return contact_point.value


@register.filter
def mask_number(e164):
    return mask_phone(e164)


@register.simple_tag
def first_phone(customer):
    """The customer's primary phone, masked; uses the prefetched contact points (no query)."""
    for point in customer.contact_points.all():
        if point.kind == ContactPoint.Kind.PHONE:
            return mask_phone(point.normalised)
    return "—"


@register.filter
def kind_icon(kind):
    return KIND_ICONS.get(kind, "dot")


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
