"""Click-to-call: ring the agent's own phone, then the customer's number, through the configured PBX.

CTI_DIALER picks the adapter: "generic" POSTs a signed originate request to CTI_ORIGINATE_URL (for any
CTI middleware), "asterisk" sends an AMI Originate. Nothing is recorded here: the PBX's call events
create the Call, as for any other call.
"""

import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.request
import uuid

import phonenumbers
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from customers.models import ContactPoint
from customers.normalise import phone_normalise
from customers.permissions import customers_visible_to

from . import signing
from .ami import AmiActionError, AmiConnection, AmiError, AmiLoginError

logger = logging.getLogger(__name__)

PBX_TIMEOUT_SECONDS = 5
RING_AGENT_MILLISECONDS = 30_000
_DIALLABLE_EXTENSION = re.compile(r"[0-9A-Za-z_.*#+-]{1,40}")


class DialError(Exception):
    """The PBX could not place the call; the message says so in words the agent can act on."""

    def __init__(self, message):
        super().__init__(message)
        self.messages = [message]


def can_dial(user) -> bool:
    """Whether the user may place calls from the CRM: they handle calls and have a phone."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.extension
        and user.has_perm("callcenter.change_call")
    )


def _check_can_dial(user) -> None:
    if not (user.is_authenticated and user.is_active and user.has_perm("callcenter.change_call")):
        raise PermissionDenied(_("You may not make calls."))
    if not user.extension:
        raise ValidationError(_("You have no phone extension yet: ask an admin to set yours."))


def contact_dial(*, user, contact_id: int, customer_id: int | None = None) -> ContactPoint:
    """Call one of a customer's phone numbers from the user's phone.

    The contact must belong to a customer the user may see (and to `customer_id`, when given);
    ContactPoint.DoesNotExist otherwise, so that no one learns what they may not see.
    """
    _check_can_dial(user)
    contact = (
        ContactPoint.objects.select_related("customer")
        .filter(pk=contact_id, customer__in=customers_visible_to(user))
        .first()
    )
    if contact is None or (customer_id is not None and contact.customer_id != customer_id):
        raise ContactPoint.DoesNotExist("No such contact, or not visible to this user.")
    if contact.kind != ContactPoint.Kind.PHONE:
        raise ValidationError(_("Only phone numbers can be called."))
    logger.info(
        "Click-to-call: %s calls contact %s of customer %s", user.username, contact.pk, contact.customer_id
    )
    originate(user=user, number=contact.normalised or contact.value)
    return contact


def originate(*, user, number: str) -> None:
    """Ask the PBX to ring the user's extension and, once they pick up, dial `number`."""
    _check_can_dial(user)
    e164, _extension = phone_normalise(number)
    adapter = ADAPTERS.get(settings.CTI_DIALER)
    if adapter is None:
        logger.error("CTI_DIALER=%r is not one of %s", settings.CTI_DIALER, ", ".join(ADAPTERS))
        raise DialError(_("Click-to-call is not set up: ask an admin to connect the phone system."))
    adapter(user=user, number=e164)


def _not_set_up(reason: str) -> DialError:
    logger.error("Click-to-call is not set up: %s", reason)
    return DialError(_("Click-to-call is not set up: ask an admin to connect the phone system."))


def _unreachable() -> DialError:
    return DialError(_("The phone system cannot be reached. Try again in a moment."))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer we did not ask for: treated as an error, body not resent


# No environment proxies: the PBX is on the local network, and the signed request goes there only.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def _originate_generic(*, user, number: str) -> None:
    """POST {"action": "originate", ...} to CTI_ORIGINATE_URL, signed like the CTI event API."""
    url, secret = settings.CTI_ORIGINATE_URL, settings.CTI_SHARED_SECRET
    if not url.startswith(("http://", "https://")):
        raise _not_set_up("CTI_ORIGINATE_URL must be an http(s) URL")
    if not secret:
        raise _not_set_up("CTI_SHARED_SECRET is not set")
    body = json.dumps(
        {
            "action": "originate",
            "extension": user.extension,
            "number": number,
            "requested_by": user.get_username(),
            "request_id": str(uuid.uuid4()),
        }
    ).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-CRM-Timestamp": timestamp,
            "X-CRM-Signature": signing.sign(secret, timestamp, body),
            "User-Agent": "crm-click-to-call/1",
        },
    )
    try:
        with _opener.open(request, timeout=PBX_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        logger.warning("Click-to-call: %s unreachable: %s", url, exc)
        raise _unreachable() from exc
    if not 200 <= status < 300:
        logger.warning("Click-to-call: %s answered HTTP %s", url, status)
        raise DialError(_("The phone system refused the call (HTTP %(status)s).") % {"status": status})


def dial_string(e164: str) -> str:
    """The number as the PBX dials it (CTI_ASTERISK_DIAL_FORMAT): 0912345678 or +886912345678."""
    if settings.CTI_ASTERISK_DIAL_FORMAT == "e164":
        return e164
    parsed = phonenumbers.parse(e164)
    region = settings.PHONENUMBER_DEFAULT_REGION
    digits = phonenumbers.format_number_for_mobile_dialing(parsed, region, with_formatting=False)
    if not digits or digits.startswith("+"):
        return settings.CTI_ASTERISK_INTERNATIONAL_PREFIX + e164[1:]
    return digits


def _originate_asterisk(*, user, number: str) -> None:
    """AMI Originate: ring the agent's channel, then run the dialplan at Context/Exten/1."""
    username, secret = settings.CTI_ASTERISK_USERNAME, settings.CTI_ASTERISK_SECRET
    if not (username and secret):
        raise _not_set_up("CTI_ASTERISK_USERNAME and CTI_ASTERISK_SECRET are not set")
    if not _DIALLABLE_EXTENSION.fullmatch(user.extension):
        raise DialError(
            _("Your extension “%(extension)s” cannot be dialled.") % {"extension": user.extension}
        )
    try:
        channel = settings.CTI_ASTERISK_CHANNEL_TEMPLATE.format(extension=user.extension)
    except (KeyError, IndexError, ValueError) as exc:
        raise _not_set_up(f"CTI_ASTERISK_CHANNEL_TEMPLATE: {exc!r}") from exc
    action = {
        "Action": "Originate",
        "Channel": channel,
        "Context": settings.CTI_ASTERISK_CONTEXT,
        "Exten": dial_string(number),
        "Priority": "1",
        "CallerID": user.extension,
        "Timeout": str(RING_AGENT_MILLISECONDS),
        "Async": "true",
    }
    try:
        ami = AmiConnection.open(
            host=settings.CTI_ASTERISK_HOST,
            port=settings.CTI_ASTERISK_PORT,
            username=username,
            secret=secret,
            events=False,
            timeout=PBX_TIMEOUT_SECONDS,
        )
    except AmiLoginError as exc:
        raise _not_set_up(str(exc)) from exc
    except AmiError as exc:
        logger.warning("Click-to-call: AMI unreachable: %s", exc)
        raise _unreachable() from exc
    try:
        ami.request(action)
    except AmiActionError as exc:
        logger.warning("Click-to-call: Originate on %s refused: %s", channel, exc)
        raise DialError(_("The phone system refused the call: %(reason)s") % {"reason": exc}) from exc
    except AmiError as exc:
        logger.warning("Click-to-call: Originate on %s failed: %s", channel, exc)
        raise _unreachable() from exc
    except ValueError as exc:  # a line break in a setting
        raise _not_set_up(str(exc)) from exc
    finally:
        ami.close()


ADAPTERS = {"generic": _originate_generic, "asterisk": _originate_asterisk}
