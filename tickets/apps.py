from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self):
        from customers.panels import Panel, register

        register(
            Panel(
                key="tickets",
                title=_("Tickets"),
                template="tickets/panels/tickets.html",
                order=30,
                icon="life-preserver",
            )
        )
