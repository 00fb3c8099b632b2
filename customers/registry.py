"""Everything an app holds about a customer, for merges and data-subject requests.

Each app that stores rows pointing at a customer registers one provider from its AppConfig.ready():

    from customers.registry import CustomerData, register

    register(CustomerData(key="conversations", label=_("Conversations"), order=60,
                          move=move, undo=undo, export=export, erase=erase))

- ``move(*, loser, winner) -> dict``: re-point the loser's rows at the winner and return what undoing
  it needs, JSON-serialisable. By convention each list value holds the ids of one kind of row moved
  (its length is shown as the count). Called inside the merge's transaction with both customers
  locked, so no new row can point at the loser meanwhile.
- ``undo(*, loser, winner, data)``: put back the rows ``data`` names that still belong to the winner
  (rows the winner gained since the merge stay with it).
- ``export(*, customer) -> dict[str, list[dict]]``: every row held about the customer, one list per
  section (a CSV file each in the archive); values must be JSON-serialisable with DjangoJSONEncoder.
- ``erase(*, customer) -> dict[str, int]``: anonymise in place what identifies the person (names,
  contact values, free text, message texts), keeping rows, amounts and dates so counts and reports
  stay right. Use ``QuerySet.update`` so that no change log copies the erased values.

The social app registers its conversations and messages the same way, e.g. social/customer_data.py:

    def move(*, loser, winner):
        return {"conversations": move_rows(Conversation.objects.all(), "customer", loser, winner)}

    def undo(*, loser, winner, data):
        undo_rows(Conversation, "customer", data.get("conversations"), loser, winner)

    def export(*, customer):
        return {"conversations": rows(Conversation.objects.filter(customer=customer), "id", "channel__name", ...),
                "messages": rows(Message.objects.filter(conversation__customer=customer), "id", "direction",
                                 "text", "created_at")}

    def erase(*, customer):
        return {"messages": Message.objects.filter(conversation__customer=customer).update(text=ERASED, payload={})}

plus ``register(CustomerData(key="social", label=_("Conversations"), order=90, ...))`` in a
``register_customer_data()`` called from SocialConfig.ready(). Messages that point at the customer
directly (not only through their conversation) need their own move_rows/undo_rows line.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

_providers: dict[str, "CustomerData"] = {}

ERASED = "[erased]"


@dataclass(frozen=True)
class CustomerData:
    key: str
    label: str
    move: Callable[..., dict]
    undo: Callable[..., None]
    export: Callable[..., dict]
    erase: Callable[..., dict]
    order: int = 100


def register(provider: CustomerData) -> None:
    _providers[provider.key] = provider


def providers() -> list[CustomerData]:
    return sorted(_providers.values(), key=lambda p: (p.order, p.key))


def move_rows(queryset, field: str, loser, winner) -> list[int]:
    """Re-point `field` of the loser's rows in `queryset` at the winner; the ids moved."""
    ids = list(queryset.filter(**{field: loser}).order_by("pk").values_list("pk", flat=True))
    if ids:
        queryset.model.objects.filter(pk__in=ids).update(**{field: winner})
    return ids


def undo_rows(model, field: str, ids, loser, winner) -> int:
    if not ids:
        return 0
    return model.objects.filter(pk__in=ids, **{field: winner}).update(**{field: loser})


def rows(queryset, *fields) -> list[dict]:
    return [_jsonable(row) for row in queryset.values(*fields)]


def _jsonable(row: dict) -> dict:
    encoder = DjangoJSONEncoder()
    out = {}
    for key, value in row.items():
        if value is None or isinstance(value, str | int | float | bool | list | dict):
            out[key] = value
        else:
            out[key] = encoder.default(value)
    return out
