"""Inbox writes: replies, internal notes, assignment, close/reopen, and tickets from a conversation.

Each service checks that the acting user may see the conversation, validates before writing, runs in
one transaction, puts what the customer sees (or what changed) on the timeline, and tells the open
inboxes after commit. Sending happens in a Celery task (social.message_deliver) outside the
transaction: a slow provider never holds a row lock or a request.
"""

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import pubsub
from customers.models import Interaction
from customers.services import record_interaction

from .inbox_selectors import conversations_visible_to
from .models import Channel, Conversation, Message

logger = logging.getLogger(__name__)

TEXT_MAX = 5000  # LINE's limit for one text message; WeChat's is lower in bytes, checked when sending
IMAGE_MAX_BYTES = 10 * 1024 * 1024  # LINE's limit for an image message's original
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
# LINE reply tokens are valid for about a minute and only once; leave a margin for the queue.
REPLY_TOKEN_TTL = dt.timedelta(seconds=50)
# WeChat customer-service messages may only be sent within 48 hours of the follower's last message.
WECHAT_WINDOW = dt.timedelta(hours=48)
INBOX_CHANNEL = "social:inbox"
CHANGE_PERMISSION = "social.change_conversation"


def interaction_channel(channel: Channel) -> str:
    return Interaction.Channel.LINE if channel.kind == Channel.Kind.LINE else Interaction.Channel.WECHAT


# Checks ----------------------------------------------------------------------------------------------


def check_can_view(user, conversation: Conversation) -> None:
    if not conversations_visible_to(user).filter(pk=conversation.pk).exists():
        raise PermissionDenied(_("You do not have access to this conversation."))


def check_can_act(user, conversation: Conversation) -> None:
    if not user.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied(_("You may not answer conversations."))
    check_can_view(user, conversation)


def wechat_window_closed(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    """True when WeChat no longer lets us write to this follower until they write again."""
    if conversation.channel.kind == Channel.Kind.LINE:
        return False
    now = now or timezone.now()
    return conversation.last_inbound_at is None or now - conversation.last_inbound_at > WECHAT_WINDOW


def window_closed_message() -> str:
    return _(
        "WeChat's 48-hour window is closed: the follower has not written for more than 48 hours, so "
        "WeChat refuses customer-service messages until they write again."
    )


# Live updates ----------------------------------------------------------------------------------------


def conversation_notify(conversation_id: int, *, customer_id: int | None = None) -> None:
    """Tell open inboxes (and the customer's 360 page) that a conversation changed.

    Only ids travel on the stream; each browser then fetches what it may see through the usual
    permission checks, so nothing leaks to a user who may not see the conversation.
    """
    pubsub.publish(INBOX_CHANNEL, "inbox", str(conversation_id))
    pubsub.publish(INBOX_CHANNEL, f"conversation-{conversation_id}", str(conversation_id))
    if customer_id:
        pubsub.publish(INBOX_CHANNEL, f"customer-{customer_id}", str(conversation_id))


def conversations_changed(conversation_ids) -> None:
    """Webhook processing stored messages in these conversations: tell the open pages (called after commit)."""
    for conversation_id, customer_id in Conversation.objects.filter(
        pk__in=list(conversation_ids)
    ).values_list("pk", "customer_id"):
        conversation_notify(conversation_id, customer_id=customer_id)


def _changed(conversation: Conversation) -> None:
    conversation_id, customer_id = conversation.pk, conversation.customer_id
    transaction.on_commit(lambda: conversation_notify(conversation_id, customer_id=customer_id))


# Replies ---------------------------------------------------------------------------------------------


def _checked_image(image) -> str:
    if image.size > IMAGE_MAX_BYTES:
        raise ValidationError({"image": _("The image is larger than 10 MB.")})
    content_type = (getattr(image, "content_type", "") or "").split(";")[0].strip().lower()
    head = image.read(8)
    image.seek(0)
    if head.startswith(b"\xff\xd8\xff"):
        sniffed = "image/jpeg"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        sniffed = "image/png"
    else:
        sniffed = ""
    if not sniffed or (content_type and content_type != sniffed):
        raise ValidationError({"image": _("Send a JPEG or PNG image.")})
    return IMAGE_TYPES[sniffed]


@transaction.atomic
def message_send(*, conversation: Conversation, actor, text: str = "", image=None) -> Message:
    """Queue a reply (text or image) to the customer; social.message_deliver sends it after commit."""
    check_can_act(actor, conversation)
    text = (text or "").replace("\x00", "").strip()
    if image is None and not text:
        raise ValidationError({"text": _("Write a reply or choose an image.")})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": _("A reply can be at most %(max)s characters.") % {"max": TEXT_MAX}})
    extension = _checked_image(image) if image is not None else ""
    conversation = Conversation.objects.select_for_update().select_related("channel").get(pk=conversation.pk)
    if image is not None and conversation.channel.kind == Channel.Kind.LINE:
        check_public_url()
    if wechat_window_closed(conversation):
        raise ValidationError({"text": window_closed_message()})
    now = timezone.now()
    sent = []
    if image is not None:
        message = Message(
            conversation=conversation,
            direction=Message.Direction.OUT,
            kind=Message.Kind.IMAGE,
            sender=actor,
            status=Message.Status.QUEUED,
            retry_key=uuid.uuid4(),
            created_at=now,
        )
        message.media.save(f"reply-{uuid.uuid4().hex}.{extension}", image, save=False)
        message.save()
        sent.append(message)
    if text:
        sent.append(
            Message.objects.create(
                conversation=conversation,
                direction=Message.Direction.OUT,
                kind=Message.Kind.TEXT,
                text=text,
                sender=actor,
                status=Message.Status.QUEUED,
                retry_key=uuid.uuid4(),
                created_at=now,
            )
        )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=now, unread_count=0, status=Conversation.Status.OPEN
    )
    for message in sent:
        _record_message(conversation, message, actor=actor)
    from .inbox_tasks import message_deliver

    ids = [message.pk for message in sent]
    transaction.on_commit(lambda: [message_deliver.delay(message_id=pk) for pk in ids])
    _changed(conversation)
    return sent[-1]


def _record_message(conversation, message, *, actor):
    summary = message.text.splitlines()[0] if message.text else _("Image sent")
    record_interaction(
        customer=conversation.customer,
        kind=Interaction.Kind.MESSAGE_OUT,
        channel=interaction_channel(conversation.channel),
        summary=summary,
        actor=actor,
        subject=message,
        occurred_at=message.created_at,
        data={"conversation": conversation.pk, "message": message.pk, "kind": message.kind},
    )


@transaction.atomic
def message_retry(*, message: Message, actor) -> Message:
    """Send a failed reply again. LINE pushes carry the same X-Line-Retry-Key, so a reply that did reach
    LINE the first time is not delivered twice."""
    conversation = message.conversation
    check_can_act(actor, conversation)
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.direction != Message.Direction.OUT or message.status != Message.Status.FAILED:
        raise ValidationError(_("Only a reply that failed can be sent again."))
    if wechat_window_closed(conversation):
        raise ValidationError(window_closed_message())
    message.status, message.error = Message.Status.QUEUED, ""
    message.save(update_fields=["status", "error"])
    from .inbox_tasks import message_deliver

    transaction.on_commit(lambda: message_deliver.delay(message_id=message.pk))
    _changed(conversation)
    return message


@transaction.atomic
def note_add(*, conversation: Conversation, actor, text: str) -> Message:
    """An internal note in the thread: colleagues see it, the customer never does."""
    check_can_act(actor, conversation)
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise ValidationError({"text": _("Write something before saving the note.")})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": _("A note can be at most %(max)s characters.") % {"max": TEXT_MAX}})
    note = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUT,
        kind=Message.Kind.NOTE,
        text=text,
        sender=actor,
        is_internal_note=True,
        status=Message.Status.SENT,
        created_at=timezone.now(),
    )
    _changed(conversation)
    return note


# Assignment and status -------------------------------------------------------------------------------


def _check_assignee(actor, assignee, team) -> None:
    if assignee is not None:
        if not assignee.is_active or not assignee.has_perm(CHANGE_PERMISSION):
            raise ValidationError(
                {"assignee": _("%(user)s cannot answer conversations.") % {"user": assignee}}
            )
        if assignee.pk != actor.pk and not actor.has_perm("social.assign_conversation"):
            raise PermissionDenied(_("You may only take conversations yourself."))
    if team is not None and team.pk != actor.team_id and not actor.has_perm("social.assign_conversation"):
        raise PermissionDenied(_("You may only hand conversations to your own team."))


@transaction.atomic
def conversation_assign(*, conversation: Conversation, actor, assignee=None, team=None) -> Conversation:
    """Give the conversation to an agent (and their team) or to a team; both None returns it to the pool."""
    check_can_act(actor, conversation)
    _check_assignee(actor, assignee, team)
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if team is None and assignee is not None:
        team = assignee.team
    before = (conversation.assignee_id, conversation.team_id)
    conversation.assignee, conversation.team = assignee, team
    if before == (conversation.assignee_id, conversation.team_id):
        return conversation
    conversation.save(update_fields=["assignee", "team"])
    if assignee is not None:
        summary = _("Conversation assigned to %(user)s") % {"user": assignee}
    elif team is not None:
        summary = _("Conversation handed to team %(team)s") % {"team": team}
    else:
        summary = _("Conversation returned to the unassigned queue")
    _note_system(conversation, actor, summary)
    _changed(conversation)
    if assignee is not None and assignee.pk != actor.pk:
        transaction.on_commit(
            lambda: pubsub.publish(pubsub.user_channel(assignee.pk), "notify", _assigned_toast(conversation))
        )
    return conversation


def _assigned_toast(conversation) -> str:
    from django.template.loader import render_to_string

    conversation = Conversation.objects.select_related("identity", "channel").get(pk=conversation.pk)
    return render_to_string("social/inbox_toast.html", {"conversation": conversation})


def _note_system(conversation, actor, summary) -> Message:
    return Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUT,
        kind=Message.Kind.EVENT,
        text=summary,
        sender=actor,
        is_internal_note=True,
        status=Message.Status.SENT,
        created_at=timezone.now(),
    )


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor) -> Conversation:
    return _set_status(conversation, actor, Conversation.Status.CLOSED, _("Conversation closed"))


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor) -> Conversation:
    return _set_status(conversation, actor, Conversation.Status.OPEN, _("Conversation reopened"))


def _set_status(conversation, actor, status, summary):
    check_can_act(actor, conversation)
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conversation.status == status:
        return conversation
    conversation.status = status
    fields = ["status"]
    if status == Conversation.Status.CLOSED:
        conversation.unread_count = 0
        fields.append("unread_count")
    conversation.save(update_fields=fields)
    _note_system(conversation, actor, summary)
    _changed(conversation)
    return conversation


def conversation_mark_read(*, conversation: Conversation, actor) -> None:
    """Opening a conversation reads it. Only whoever answers it (or anyone, while it is unassigned)
    clears the counter: a manager looking over an agent's shoulder does not."""
    if conversation.unread_count and conversation.assignee_id in (None, actor.pk):
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
        conversation.unread_count = 0
        conversation_notify(conversation.pk)


# Links LINE fetches images from --------------------------------------------------------------


def check_public_url() -> None:
    """LINE fetches the images we send from an https address of ours: there must be one."""
    if not _public_url("/").startswith("https://"):
        raise ValidationError(
            {
                "image": _(
                    "Images cannot be sent to LINE until SOCIAL_PUBLIC_URL is set to the CRM's https address."
                )
            }
        )


def _public_url(path: str) -> str:
    base = getattr(settings, "SOCIAL_PUBLIC_URL", "") or getattr(settings, "TICKETS_SITE_URL", "")
    return base.rstrip("/") + path


def media_url(kind: str, pk: int, *, absolute: bool = True) -> str:
    """The signed address of a message's ("m") or broadcast variant's ("b") image; LINE fetches it."""
    from django.core import signing
    from django.urls import reverse

    path = reverse("inbox:media", kwargs={"token": signing.dumps([kind, pk], salt="social.media")})
    return _public_url(path) if absolute else path


# Tickets from conversations --------------------------------------------------------------------------


@transaction.atomic
def conversation_ticket_create(
    *, conversation: Conversation, actor, subject: str, description: str = "", priority: str = "normal"
):
    """Open a ticket from the conversation: the thread is its origin, and its public replies go back to
    the customer on LINE or WeChat (see ticket_reply_relay)."""
    from tickets.models import Ticket
    from tickets.services import ticket_create

    check_can_act(actor, conversation)
    transcript = "\n".join(
        f"{'>' if m.direction == Message.Direction.IN else '<'} {m.text or m.get_kind_display()}"
        for m in conversation.messages.filter(is_internal_note=False).order_by("-created_at", "-id")[:10][
            ::-1
        ]
    )
    source = Ticket.Source.LINE if conversation.channel.kind == Channel.Kind.LINE else Ticket.Source.WECHAT
    ticket = ticket_create(
        actor=actor,
        customer=conversation.customer,
        subject=subject,
        description=(description.strip() + ("\n\n" + transcript if transcript else "")).strip(),
        priority=priority,
        source=source,
        origin=conversation,
        team=conversation.team,
        check_customer=False,
    )
    _note_system(conversation, actor, _("Ticket #%(number)s opened") % {"number": ticket.number})
    _changed(conversation)
    return ticket


def ticket_reply_relay(ticket, comment) -> None:
    """A public reply on a ticket opened from a conversation is sent to the customer there too."""
    if comment.internal or ticket.origin_type_id is None:
        return
    if ticket.origin_type.model_class() is not Conversation:
        return
    conversation = Conversation.objects.select_related("channel").filter(pk=ticket.origin_id).first()
    if conversation is None or wechat_window_closed(conversation):
        return
    now = timezone.now()
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUT,
        kind=Message.Kind.TEXT,
        text=comment.body[:TEXT_MAX],
        sender=comment.author,
        status=Message.Status.QUEUED,
        retry_key=uuid.uuid4(),
        created_at=now,
        data={"ticket": ticket.pk, "comment": comment.pk},
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now, unread_count=0)
    from .inbox_tasks import message_deliver

    transaction.on_commit(lambda: message_deliver.delay(message_id=message.pk))
    _changed(conversation)
