from django.apps import AppConfig
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _deals_panel(request, customer):
    from . import selectors

    return {
        "deals": selectors.customer_deals(user=request.user, customer=customer),
        "can_add": request.user.has_perm("sales.add_deal"),
    }


def _tasks_panel(request, customer):
    from . import selectors

    return {
        "tasks": selectors.customer_tasks(user=request.user, customer=customer),
        "can_add": request.user.has_perm("sales.add_task"),
        "now": timezone.now(),
    }


def _orders_panel(request, customer):
    from .orders import customer_orders

    if not request.user.has_perm("sales.view_order"):
        return {"hidden": True}
    return customer_orders(user=request.user, customer=customer)


def _card_deals(customer, user):
    from . import selectors

    return {"deals": selectors.customer_deals(user=user, customer=customer, limit=3)}


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = _("Sales")

    def ready(self):
        from callcenter.cards import CardSection, register_section
        from crm import followups
        from customers.panels import Panel, register

        from . import services
        from .customer_data import register_customer_data

        register_customer_data()

        register(
            Panel(
                key="deals",
                title=_("Deals"),
                template="sales/panels/deals.html",
                context=_deals_panel,
                order=20,
                icon="briefcase",
            )
        )
        register(
            Panel(
                key="tasks",
                title=_("Follow-ups"),
                template="sales/panels/tasks.html",
                context=_tasks_panel,
                order=25,
                icon="check2-square",
            )
        )
        register(
            Panel(
                key="orders",
                title=_("Orders"),
                template="sales/panels/orders.html",
                context=_orders_panel,
                order=27,
                icon="bag",
            )
        )
        register_section(
            CardSection(key="deals", template="sales/card_deals.html", context=_card_deals, order=20)
        )
        followups.register(followups.TASK, services.task_create_from_followup)
