from django import template

from ..dialer import can_dial
from ..models import AgentStatus

register = template.Library()


@register.inclusion_tag("callcenter/presence.html")
def agent_presence(user):
    status = AgentStatus.objects.filter(user=user).first()
    return {
        "status": status,
        "current": status.status if status else AgentStatus.Status.OFFLINE,
        "choices": AgentStatus.Status.choices,
    }


@register.simple_tag
def can_click_to_call(user) -> bool:
    """Whether to show call buttons next to phone numbers: the user handles calls and has a phone."""
    return can_dial(user)
