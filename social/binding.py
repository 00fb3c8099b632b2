"""Binding a LINE or WeChat identity to an existing customer.

Three ways in:
- an operator binds from the inbox (search, confirm): identity_bind();
- a follower sends a phone number an existing customer has: the inbox proposes it
  (inbox_selectors.binding_proposals) and the operator confirms with identity_bind();
- the customer binds themselves through LINE's account link: the operator sends an invitation
  (link_invite: LINE issues a linkToken), the customer proves who they are on our page with a code we
  e-mail to an address on file (link_code_send / link_code_check), we redirect to LINE with a nonce,
  and LINE's accountLink webhook event carries the nonce back (account_link_complete).

When the identity's profile is another customer, the two profiles are merged through the merge service
(customers.merging.customer_merge) when it is installed; otherwise the identity and its conversations
move to the chosen customer.
"""

import datetime as dt
import hashlib
import hmac
import secrets
import urllib.parse

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from customers.models import ContactPoint, Customer, Interaction, SocialIdentity
from customers.permissions import customers_visible_to
from customers.services import record_interaction

from .inbox import _changed, _note_system, check_can_act, interaction_channel
from .models import Channel, Conversation

LINK_SALT = "social.account-link"
LINK_MAX_AGE = dt.timedelta(minutes=10)  # LINE's linkToken is valid for 10 minutes
CODE_MAX_AGE = 600
CODE_ATTEMPTS = 5
LINE_ACCESS_BASE = "https://access.line.me"


def _merge_service():
    try:
        from customers.merging import customer_merge
    except ImportError:
        return None
    return customer_merge


@transaction.atomic
def identity_bind(*, actor, conversation: Conversation, customer: Customer) -> Conversation:
    """Bind the conversation's identity to `customer`, whom the operator chose and may see."""
    check_can_act(actor, conversation)
    if not customers_visible_to(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You do not have access to this customer."))
    identity = SocialIdentity.objects.select_for_update().get(pk=conversation.identity_id)
    previous = identity.customer
    if previous.pk == customer.pk:
        raise ValidationError(_("This account is already bound to %(name)s.") % {"name": customer.name})
    _bind(identity, previous=previous, customer=customer, actor=actor, channel=conversation.channel)
    conversation.refresh_from_db()
    _note_system(conversation, actor, _("Bound to customer %(name)s") % {"name": customer.name})
    _changed(conversation)
    return conversation


def follower_profile_only(customer: Customer, identity) -> bool:
    """True for a profile the CRM made for a new follower and nobody has filled in since: no contact
    details, no owner, and no other account. Folding it into a real customer loses nothing."""
    return (
        customer.owner_id is None
        and not customer.contact_points.exists()
        and not customer.social_identities.exclude(pk=identity.pk).exists()
    )


def _bind(identity, *, previous, customer, actor, channel, move_if_no_merge: bool = False) -> None:
    """Bind; `move_if_no_merge` moves the account alone when the profiles may not be merged (the
    customer proved who they are through the account link, but nobody approved merging two profiles)."""
    merge = _merge_service()
    if merge is not None and move_if_no_merge and not follower_profile_only(previous, identity):
        merge = None
    if merge is not None:
        if follower_profile_only(previous, identity):
            # Binding is the operator's call; folding the follower's empty profile in is the system's
            # (the operator may not even see that profile: they see the conversation).
            merge(actor=None, winner=customer, loser=previous)
        elif actor is not None and actor.has_perm("customers.merge_customer"):
            merge(actor=actor, winner=customer, loser=previous)
        else:
            raise PermissionDenied(
                _(
                    "This account's profile holds its own details: binding it merges two customers, which "
                    "needs a manager."
                )
            )
    # The merge moves what its registered providers know about; the identity and its conversations
    # end up on the chosen customer whatever they are.
    identity.customer = customer
    identity.save(update_fields=["customer"])
    Conversation.objects.filter(identity=identity).update(customer=customer)
    label = identity.display_name or identity.external_id
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        channel=interaction_channel(channel),
        summary=_("%(provider)s account “%(name)s” bound to this customer")
        % {"provider": identity.get_provider_display(), "name": label},
        actor=actor,
        subject=identity,
        data={"identity": identity.pk, "from_customer": previous.pk},
    )
    if merge is None:
        record_interaction(
            customer=previous,
            kind=Interaction.Kind.SYSTEM,
            channel=interaction_channel(channel),
            summary=_("%(provider)s account “%(name)s” moved to customer %(customer)s")
            % {"provider": identity.get_provider_display(), "name": label, "customer": customer.name},
            actor=actor,
            subject=identity,
            data={"identity": identity.pk, "to_customer": customer.pk},
        )


def customer_search(*, user, q: str, exclude: int | None = None) -> list[Customer]:
    """Candidates for binding: the user's visible customers by name, phone or e-mail."""
    from customers.selectors import customer_search as search

    q = (q or "").strip()[:100]
    if len(q) < 2:
        return []
    queryset = search(customers_visible_to(user), q)
    if exclude:
        queryset = queryset.exclude(pk=exclude)
    return list(queryset.order_by("name", "id")[:10])


# LINE account link --------------------------------------------------------------------------------------


def _link_url(token: str) -> str:
    base = getattr(settings, "SOCIAL_PUBLIC_URL", "") or getattr(settings, "TICKETS_SITE_URL", "")
    return base.rstrip("/") + reverse("inbox:link", kwargs={"token": token})


def link_invite(*, actor, conversation: Conversation) -> str:
    """Ask LINE for a linkToken for this follower and send them the link to bind their account."""
    from .inbox import message_send
    from .providers.http import ProviderError, call
    from .providers.line import LineClient

    check_can_act(actor, conversation)
    if conversation.channel.kind != Channel.Kind.LINE:
        raise ValidationError(_("Account linking is a LINE feature."))
    client = LineClient.for_channel(conversation.channel)
    user_id = conversation.identity.external_id
    try:
        answer = call(
            "POST",
            f"{client.api_base}/v2/bot/user/{urllib.parse.quote(user_id)}/linkToken",
            headers=client._headers(),
        ).json()
    except ProviderError as exc:
        raise ValidationError(_("LINE did not issue a link token: %(detail)s") % {"detail": exc}) from None
    link_token = str(answer.get("linkToken", ""))
    if not link_token:
        raise ValidationError(_("LINE did not issue a link token."))
    token = signing.dumps(
        {"c": conversation.channel_id, "i": conversation.identity_id, "t": link_token}, salt=LINK_SALT
    )
    url = _link_url(token)
    message_send(
        conversation=conversation,
        actor=actor,
        text=_("Link your LINE account to your membership: %(url)s (valid for 10 minutes)") % {"url": url},
    )
    return url


def link_token_read(token: str) -> dict:
    """The invitation behind a link page's token; raises signing.BadSignature when forged or too old."""
    return signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)


def _code_key(token: str) -> str:
    return "social:link-code:" + hashlib.sha256(token.encode()).hexdigest()


def link_code_send(*, token: str, email: str) -> None:
    """E-mail a six-digit code to `email` if a customer has that address; say nothing either way."""
    link_token_read(token)
    email = (email or "").strip().lower()
    point = (
        ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, normalised=email)
        .order_by("-is_primary", "id")
        .first()
    )
    if point is None:
        cache.set(_code_key(token), {"customer": None, "code": "", "attempts": 0}, CODE_MAX_AGE)
        return
    code = f"{secrets.randbelow(1_000_000):06d}"
    cache.set(_code_key(token), {"customer": point.customer_id, "code": code, "attempts": 0}, CODE_MAX_AGE)
    send_mail(
        _("Your code to link LINE"),
        _("Your code is %(code)s. It is valid for 10 minutes. If you did not ask for it, ignore this e-mail.")
        % {"code": code},
        settings.DEFAULT_FROM_EMAIL,
        [point.value],
    )


def link_code_check(*, token: str, code: str) -> str:
    """Check the code; on success return the LINE URL that finishes the link (with a fresh nonce)."""
    invitation = link_token_read(token)
    state = cache.get(_code_key(token))
    if not state or state["attempts"] >= CODE_ATTEMPTS:
        raise ValidationError(_("The code has expired. Ask for a new link in the LINE chat."))
    state["attempts"] += 1
    cache.set(_code_key(token), state, CODE_MAX_AGE)
    if not state["customer"] or not hmac.compare_digest(state["code"], (code or "").strip()):
        raise ValidationError(_("That code is not right."))
    nonce = secrets.token_urlsafe(24)
    cache.set(
        "social:link-nonce:" + nonce,
        {"customer": state["customer"], "channel": invitation["c"], "identity": invitation["i"]},
        int(LINK_MAX_AGE.total_seconds()),
    )
    cache.delete(_code_key(token))
    query = urllib.parse.urlencode({"linkToken": invitation["t"], "nonce": nonce})
    base = getattr(settings, "LINE_ACCESS_BASE", LINE_ACCESS_BASE).rstrip("/")
    return f"{base}/dialog/bot/accountLink?{query}"


def account_link_complete(*, channel: Channel, event: dict) -> bool:
    """Handle LINE's accountLink event: bind the follower to the customer the nonce was issued for."""
    link = event.get("link") or {}
    user_id = (event.get("source") or {}).get("userId", "")
    if link.get("result") != "ok" or not user_id:
        return False
    key = "social:link-nonce:" + str(link.get("nonce", ""))
    state = cache.get(key)
    if not state or state["channel"] != channel.pk:
        return False
    cache.delete(key)
    with transaction.atomic():
        identity = (
            SocialIdentity.objects.select_for_update()
            .filter(pk=state["identity"], external_id=user_id, channel=str(channel.pk))
            .first()
        )
        customer = Customer.objects.filter(pk=state["customer"]).first()
        if identity is None or customer is None:
            return False
        if identity.customer_id != customer.pk:
            _bind(
                identity,
                previous=identity.customer,
                customer=customer,
                actor=None,
                channel=channel,
                move_if_no_merge=True,
            )
        for conversation in Conversation.objects.filter(identity=identity):
            _note_system(conversation, None, _("The customer linked their LINE account"))
            _changed(conversation)
    return True
