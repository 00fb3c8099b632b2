from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def tickets_panel_context(request, customer):
    """The 360 page's tickets panel: the customer's open tickets the user may see (one query)."""
    from django.utils import timezone

    from .selectors import customer_open_tickets

    tickets, more = customer_open_tickets(user=request.user, customer=customer)
    return {
        "tickets": tickets,
        "more": more,
        "now": timezone.now(),
        "can_create": request.user.has_perm("tickets.add_ticket"),
    }


def caller_card_context(customer, user):
    """Open tickets on the caller card, so the agent knows what the customer is waiting for."""
    from .selectors import customer_open_tickets

    tickets, more = customer_open_tickets(user=user, customer=customer, limit=3)
    return {"tickets": tickets, "more": more}


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        from auditlog.registry import auditlog

        from callcenter.cards import CardSection, register_section
        from crm import followups
        from customers.panels import Panel, register

        from . import models, services
        from .customer_data import register_customer_data

        register_customer_data()

        register(
            Panel(
                key="tickets",
                title=_("Tickets"),
                template="tickets/panels/tickets.html",
                context=tickets_panel_context,
                order=30,
                icon="life-preserver",
            )
        )
        register_section(
            CardSection(
                key="tickets", template="tickets/card_tickets.html", context=caller_card_context, order=20
            )
        )
        followups.register(followups.TICKET, services.ticket_create_from_followup)
        for model in (
            models.Category,
            models.SlaPolicy,
            models.BusinessCalendar,
            models.Holiday,
            models.EscalationRule,
            models.AssignmentRule,
            models.StatusTransition,
        ):
            auditlog.register(model)
