"""Permission checks the sales services share: the model permission, then the row."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from customers.models import Customer
from customers.permissions import customers_visible_to

from .. import selectors
from ..models import Deal, Task

# Permissions -----------------------------------------------------------------------------------


def _check_deal_access(actor, deal: Deal, permission: str, message: str) -> None:
    if actor is None:
        return
    if not actor.has_perm(permission):
        raise PermissionDenied(message)
    if not selectors.deals_visible_to(actor).filter(pk=deal.pk).exists():
        raise PermissionDenied(_("You do not have access to this deal."))


def _check_task_access(actor, task: Task, permission: str) -> None:
    if actor is None:
        return
    if not actor.has_perm(permission):
        raise PermissionDenied(_("You may not change tasks."))
    if not selectors.tasks_visible_to(actor).filter(pk=task.pk).exists():
        raise PermissionDenied(_("You do not have access to this task."))


def _check_customer_visible(actor, customer: Customer) -> None:
    if actor is not None and not customers_visible_to(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You do not have access to this customer."))


def can_manage_settings(user) -> bool:
    return user.is_authenticated and user.has_perm("sales.manage_pipelines")
