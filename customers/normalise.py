"""Normalising contact values so that one number or address has one spelling in the database."""

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

# Regions tried, in order, when a number without a country code is not valid in the default region.
FALLBACK_REGIONS = ("CN",)
_DIGITS = re.compile(r"\d+")


def phone_normalise(raw: str, *, region: str | None = None) -> tuple[str, str]:
    """Return (E.164 number, extension) for a phone number typed in any usual format.

    `0912-345-678`, `+886 912 345 678` and `886912345678` all give `+886912345678`;
    `(02)2345-6789#12` gives `+886223456789` with extension `12`. Raises ValidationError with a
    message a user can act on when the text is not a valid number.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    if len(text) > 40 or not _DIGITS.search(text):
        raise ValidationError(_("“%(value)s” is not a phone number.") % {"value": text[:40]}, code="invalid")
    region = region or settings.PHONENUMBER_DEFAULT_REGION
    for candidate in _candidates(text, region):
        if candidate is not None and phonenumbers.is_valid_number(candidate):
            e164 = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
            return e164, candidate.extension or ""
    raise ValidationError(
        _("“%(value)s” is not a valid phone number. Check the digits, or add the country code (e.g. +886).")
        % {"value": text},
        code="invalid",
    )


def _candidates(text, region):
    yield _parse(text, region)
    # A number typed without its country code may belong to a neighbouring market (13800138000)...
    for fallback in FALLBACK_REGIONS:
        if fallback != region:
            yield _parse(text, fallback)
    # ...or carry the country code without the plus sign: 886912345678, 8613800138000.
    digits = "".join(_DIGITS.findall(text.split("#")[0]))
    if not text.startswith("+") and digits and not digits.startswith("0"):
        yield _parse("+" + text.lstrip(), None)


def _parse(text, region):
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def phone_query_digits(text: str) -> str:
    """The digits of a partial number typed in a search box, without a national trunk 0."""
    digits = "".join(_DIGITS.findall(text))
    return digits.lstrip("0")


def phone_display(e164: str, extension: str = "") -> str:
    """A number in the international format people read, e.g. +886 912 345 678."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return f"{shown} #{extension}" if extension else shown


def email_normalise(raw: str) -> str:
    value = (raw or "").strip()
    if not value:
        raise ValidationError(_("Enter an e-mail address."), code="required")
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            _("“%(value)s” is not a valid e-mail address.") % {"value": value[:254]}, code="invalid"
        ) from None
    return value.lower()


def mask_phone(e164: str) -> str:
    """Keep the country code and the last three digits: +886 •••• ••• 678."""
    shown = phone_display(e164)
    digits_seen = sum(ch.isdigit() for ch in shown)
    keep_tail = 3
    country = shown.split(" ", 1)[0] if shown.startswith("+") else ""
    out, index = [], 0
    for ch in shown[len(country) :]:
        if ch.isdigit():
            index += 1
            out.append(ch if index > digits_seen - len(country.strip("+")) - keep_tail else "•")
        else:
            out.append(ch)
    return country + "".join(out)


def mask_email(value: str) -> str:
    local, _sep, domain = value.partition("@")
    if not domain:
        return "•" * min(len(value), 8)
    return f"{local[:1]}•••@{domain}"
