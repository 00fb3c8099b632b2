from django import template

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
