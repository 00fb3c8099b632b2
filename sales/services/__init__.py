"""Every write to deals, line items, tasks and the sales settings goes through here.

Services check the acting user's permissions themselves (actor=None means the system, e.g. a Celery
task or a follow-up another app asked for), run in a transaction and write the customer's timeline
through customers.services.record_interaction.
"""

from .access import can_manage_settings
from .deals import (
    MAX_AMOUNT,
    DealConflict,
    deal_create,
    deal_delete,
    deal_move,
    deal_share,
    deal_update,
    line_item_add,
    line_item_remove,
    settings_currency,
)
from .reminders import REMINDER_BATCH, REMINDER_MAX_BATCHES, reminders_send_due
from .tasks import (
    AFTER_SALE_DAYS,
    Completion,
    task_complete,
    task_create,
    task_create_from_followup,
    task_delete,
    task_take,
    task_update,
)

__all__ = [
    "AFTER_SALE_DAYS",
    "MAX_AMOUNT",
    "REMINDER_BATCH",
    "REMINDER_MAX_BATCHES",
    "Completion",
    "DealConflict",
    "can_manage_settings",
    "deal_create",
    "deal_delete",
    "deal_move",
    "deal_share",
    "deal_update",
    "line_item_add",
    "line_item_remove",
    "reminders_send_due",
    "settings_currency",
    "task_complete",
    "task_create",
    "task_create_from_followup",
    "task_delete",
    "task_take",
    "task_update",
]
