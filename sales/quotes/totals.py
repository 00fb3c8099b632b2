"""Quote totals and line input: Decimal, ROUND_HALF_UP per currency (see sales.quotes)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import Product
from ..services import MAX_AMOUNT

ZERO_DECIMAL_CURRENCIES = {"TWD", "JPY"}
MAX_LINES = 50


def currency_places(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's smallest unit, kept with two places as deals store amounts."""
    exponent = Decimal(1) if currency_places(currency) == 0 else Decimal("0.01")
    return amount.quantize(exponent, rounding=ROUND_HALF_UP).quantize(Decimal("0.01"))


# Totals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = Decimal(0)
    product: Product | None = None


@dataclass(frozen=True)
class Totals:
    line_totals: list[Decimal]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal

    @property
    def net(self) -> Decimal:
        return self.subtotal - self.discount


def quote_totals(
    *, lines: list[LineInput], discount_percent: Decimal, tax_percent: Decimal, currency: str
) -> Totals:
    """Per-line discount, then the quote's discount, then tax; each step rounded (see the module doc)."""
    line_totals = []
    for line in lines:
        gross = line.quantity * line.unit_price
        line_totals.append(round_money(gross - gross * line.discount_percent / 100, currency))
    subtotal = sum(line_totals, Decimal("0.00"))
    discount = round_money(subtotal * discount_percent / 100, currency)
    tax = round_money((subtotal - discount) * tax_percent / 100, currency)
    return Totals(
        line_totals=line_totals,
        subtotal=subtotal,
        discount=discount,
        tax=tax,
        total=subtotal - discount + tax,
    )


# Input -----------------------------------------------------------------------------------------


def _decimal(value, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        raise ValueError from None
    if not number.is_finite() or number < minimum or number > maximum:
        raise ValueError
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _percent(value, field: str, errors: dict) -> Decimal:
    try:
        return _decimal(value, minimum=Decimal(0), maximum=Decimal(100))
    except ValueError:
        errors[field] = _("Enter a percentage between 0 and 100.")
        return Decimal(0)


def clean_lines(lines) -> list[LineInput]:
    """Dicts (description, quantity, unit_price, discount_percent, product) to LineInput; ValidationError."""
    cleaned, problems = [], []
    for index, raw in enumerate(lines, start=1):
        product = raw.get("product")
        description = (raw.get("description") or "").strip() or (product.name if product else "")
        unit_price = raw.get("unit_price")
        if unit_price in (None, "") and product is not None:
            unit_price = product.unit_price
        try:
            quantity = _decimal(raw.get("quantity", 1), minimum=Decimal("0.01"), maximum=Decimal("99999999"))
            price = _decimal(unit_price, minimum=Decimal(0), maximum=MAX_AMOUNT)
            discount = _decimal(raw.get("discount_percent"), minimum=Decimal(0), maximum=Decimal(100))
        except ValueError:
            problems.append(
                _("Line %(n)s: enter a quantity above zero, a price of 0 or more and a discount of 0–100 %%.")
                % {"n": index}
            )
            continue
        if not description:
            problems.append(_("Line %(n)s: describe the item or choose a product.") % {"n": index})
            continue
        cleaned.append(LineInput(description[:200], quantity, price, discount, product))
    if not cleaned and not problems:
        problems.append(_("Add at least one line to the quote."))
    if len(cleaned) > MAX_LINES:
        problems.append(_("A quote has at most %(n)s lines.") % {"n": MAX_LINES})
    if problems:
        raise ValidationError({"lines": problems})
    return cleaned
