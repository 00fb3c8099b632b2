"""The caller card: what an agent sees while the phone rings, rendered for that agent's permissions.

Other apps add sections (open deals, open tickets) without editing callcenter/:

    from callcenter.cards import CardSection, register_section
    register_section(CardSection(key="deals", template="sales/card_deals.html",
                                 context=lambda customer, user: {"deals": ...}))
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from customers.models import Customer, Interaction
from customers.permissions import can_view_contact_details

from .models import Call, Disposition

_sections: dict[str, "CardSection"] = {}


@dataclass(frozen=True)
class CardSection:
    key: str
    template: str
    context: Callable = field(default=lambda customer, user: {})
    order: int = 100


def register_section(section: CardSection) -> None:
    _sections[section.key] = section


def card_context(*, call: Call, user) -> dict:
    from .services import grant_lookup

    grant_lookup(call=call, user=user)
    customer = None
    if call.customer_id:
        customer = (
            Customer.objects.select_related("owner", "organisation")
            .prefetch_related("tags")
            .get(pk=call.customer_id)
        )
    candidates = (
        list(Customer.objects.filter(pk__in=call.candidates).select_related("owner").order_by("name"))
        if call.candidates
        else []
    )
    recent = []
    sections = []
    if customer is not None:
        recent = list(
            Interaction.objects.filter(customer=customer)
            .select_related("actor")
            .order_by("-occurred_at", "-id")[:10]
        )
        sections = [
            {"section": section, **section.context(customer, user)}
            for section in sorted(_sections.values(), key=lambda s: (s.order, s.key))
        ]
    return {
        "call": call,
        "customer": customer,
        "candidates": candidates,
        "recent": recent,
        "sections": sections,
        "dispositions": Disposition.objects.filter(active=True),
        "show_contacts": can_view_contact_details(user),
        "card_user": user,
    }


def card_html(*, call: Call, user, error: str = "") -> str:
    """The card as the given agent should see it, in the agent's language."""
    with (
        translation.override(user.language or settings.LANGUAGE_CODE),
        timezone.override(user.timezone or settings.TIME_ZONE),
    ):
        return render_to_string(
            "callcenter/card.html", {**card_context(call=call, user=user), "error": error}
        )
