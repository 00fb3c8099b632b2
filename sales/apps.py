from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "sales"

    def ready(self):
        from customers.panels import Panel, register

        register(
            Panel(
                key="deals", title=_("Deals"), template="sales/panels/deals.html", order=20, icon="briefcase"
            )
        )
