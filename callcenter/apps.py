from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallcenterConfig(AppConfig):
    name = "callcenter"
    verbose_name = _("Call centre")

    def ready(self):
        from customers.panels import Panel, register

        register(
            Panel(
                key="calls",
                title=_("Calls"),
                template="callcenter/panels/calls.html",
                order=40,
                icon="telephone",
            )
        )
