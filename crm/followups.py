"""Follow-ups that one app asks for and another app provides.

A call wrap-up or a missed call asks for a "task" or a "ticket"; until the sales and tickets apps
register real handlers, the request lands on the customer's timeline so nothing is lost. An app that
owns tasks registers its handler in AppConfig.ready():

    from crm import followups
    followups.register("task", sales.services.task_create_from_followup)

A handler receives the FollowUp and returns the object it created (or the timeline entry).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

TASK = "task"
TICKET = "ticket"

_handlers: dict[str, Callable[["FollowUp"], Any]] = {}


@dataclass
class FollowUp:
    kind: str
    customer: Any
    title: str
    actor: Any = None
    assignee: Any = None
    team: Any = None
    due_at: dt.datetime | None = None
    note: str = ""
    source: Any = None
    data: dict = field(default_factory=dict)


def register(kind: str, handler: Callable[[FollowUp], Any]) -> None:
    _handlers[kind] = handler


def create(followup: FollowUp):
    return _handlers.get(followup.kind, _on_timeline)(followup)


def _on_timeline(followup: FollowUp):
    from customers.models import Interaction
    from customers.services import record_interaction

    label = _("Ticket requested") if followup.kind == TICKET else _("Follow-up task")
    data = {"followup": followup.kind, "note": followup.note, **followup.data}
    if followup.assignee is not None:
        data["assignee"] = followup.assignee.pk
    if followup.team is not None:
        data["team"] = followup.team.pk
    if followup.due_at is not None:
        data["due_at"] = followup.due_at.isoformat()
    return record_interaction(
        customer=followup.customer,
        kind=Interaction.Kind.TICKET if followup.kind == TICKET else Interaction.Kind.TASK,
        summary=f"{label}: {followup.title}",
        actor=followup.actor,
        subject=followup.source,
        data=data,
    )
