"""Panels of the customer 360 page that other apps contribute without editing customers/.

An app registers its panel in its AppConfig.ready():

    from customers.panels import Panel, register
    register(Panel(key="deals", title=_("Deals"), template="sales/panels/deals.html",
                   context=lambda request, customer: {"deals": ...}, order=20))

`context` is called with the request and the customer and must cost a constant number of queries.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

_panels: dict[str, "Panel"] = {}


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    context: Callable = field(default=lambda request, customer: {})
    order: int = 100
    icon: str = "square"


def register(panel: Panel) -> None:
    _panels[panel.key] = panel


def panels() -> list[Panel]:
    return sorted(_panels.values(), key=lambda p: (p.order, p.key))


def render_context(request, customer) -> list[dict]:
    return [{"panel": panel, **panel.context(request, customer)} for panel in panels()]
