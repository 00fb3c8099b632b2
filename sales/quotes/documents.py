"""The quote as a document: the printable HTML's context and the PDF (WeasyPrint)."""

import logging

from django.conf import settings
from django.template.loader import render_to_string

from ..models import Quote
from .totals import currency_places

logger = logging.getLogger(__name__)


class PdfUnavailable(Exception):
    """WeasyPrint or the system libraries it needs (Pango) are missing on this machine."""


def quote_document_context(quote: Quote) -> dict:
    return {
        "quote": quote,
        "lines": list(quote.lines.all()),
        "company": settings.SALES_QUOTE_COMPANY,
        "places": currency_places(quote.currency),
    }


def quote_pdf(quote: Quote) -> bytes:
    """The quote as a PDF, from the same HTML as the printable page; fonts (CJK too) are embedded."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        logger.warning("Quote PDFs are unavailable: %s", exc)
        raise PdfUnavailable(str(exc)) from exc
    html = render_to_string("sales/quote_document.html", quote_document_context(quote))
    return HTML(string=html).write_pdf()


def quote_filename(quote: Quote) -> str:
    return f"{quote.number}-v{quote.version}.pdf"
