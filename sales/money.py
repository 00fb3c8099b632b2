"""Amounts and currencies as the sales pages show them."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format

CURRENCIES = ["TWD", "CNY", "USD", "HKD", "JPY", "EUR"]
DEFAULT_CURRENCY = "TWD"


def format_money(amount, currency: str = "") -> str:
    """ "TWD 1,200,000" or "USD 1,250.50": cents only when there are some."""
    amount = Decimal(amount or 0)
    places = 0 if amount == amount.to_integral_value() else 2
    rounded = amount.quantize(Decimal(1) if places == 0 else Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = number_format(rounded, decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"{currency} {text}".strip()
