from django import template

from ..money import format_money

register = template.Library()


@register.filter
def money(amount, currency=""):
    return format_money(amount, currency)


@register.filter
def money_totals(totals):
    """{"TWD": 1200, "USD": 30} as "TWD 1,200 · USD 30"; "0" when empty."""
    if not totals:
        return format_money(0)
    return " · ".join(format_money(amount, currency) for currency, amount in sorted(totals.items()))


@register.simple_tag
def is_rotting(deal, now=None):
    return deal.is_rotting(now)
