"""Quotes: numbering, totals, versions, the PDF, sending by e-mail, acceptance and decline.

Totals (all Decimal, ROUND_HALF_UP to the currency's places: TWD and JPY whole units, others cents):
  line total  = quantity × unit price − the line's discount, rounded per line;
  subtotal    = Σ line totals;
  discount    = subtotal × the quote's discount %, rounded;
  tax         = (subtotal − discount) × tax %, rounded;
  total       = subtotal − discount + tax.
Deals store amounts with two decimal places and a currency code, so quotes do the same.

A revision is a new Quote row with the same number and the next version; the versions before it are
"superseded" and read-only. Accepting a quote moves its deal to the pipeline's won stage (the customer
has committed to buy), sets the deal's amount to the quote's net total (before tax) when the currencies
match, and the contract status to "signed"; declining leaves the deal where it is.
"""

from .documents import PdfUnavailable, quote_document_context, quote_filename, quote_pdf
from .reads import (
    customer_emails,
    deal_quotes,
    quote_detail,
    quote_from_public_token,
    quote_list,
    quote_public_token,
    quote_versions,
    quotes_visible_to,
)
from .services import (
    DEFAULT_VALID_DAYS,
    quote_accept,
    quote_create,
    quote_decline,
    quote_revise,
    quote_send,
)
from .totals import MAX_LINES, LineInput, Totals, clean_lines, currency_places, quote_totals, round_money

__all__ = [
    "DEFAULT_VALID_DAYS",
    "MAX_LINES",
    "LineInput",
    "PdfUnavailable",
    "Totals",
    "clean_lines",
    "currency_places",
    "customer_emails",
    "deal_quotes",
    "quote_accept",
    "quote_create",
    "quote_decline",
    "quote_detail",
    "quote_document_context",
    "quote_filename",
    "quote_from_public_token",
    "quote_list",
    "quote_pdf",
    "quote_public_token",
    "quote_revise",
    "quote_send",
    "quote_totals",
    "quote_versions",
    "quotes_visible_to",
    "round_money",
]
