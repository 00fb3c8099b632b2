"""Processing of stored webhook events, in batches: identities, conversations, messages, the timeline.

`inbound_events_process` claims pending events (FOR UPDATE SKIP LOCKED, so two workers never take the
same row), writes everything in bulk in one transaction, marks them processed, and after commit enqueues
the slow follow-ups that call the providers: profiles, media downloads, auto-replies. Running it twice
is harmless: only pending rows are taken.
"""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Interaction, SocialIdentity
from customers.services import InteractionEntry, customer_create, customer_tags_add, record_interactions

from . import autoreply, binding, normalise
from .models import AutoReplyRule, Channel, Conversation, InboundEvent, Message, SocialGroup
from .normalise import Inbound

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
INTERACTION_CHANNEL = {"line": Interaction.Channel.LINE, "wechat": Interaction.Channel.WECHAT}
TIMELINE_KIND = {
    normalise.MESSAGE: Interaction.Kind.MESSAGE_IN,
    normalise.POSTBACK: Interaction.Kind.POSTBACK,
    normalise.FOLLOW: Interaction.Kind.FOLLOW,
    normalise.UNFOLLOW: Interaction.Kind.UNFOLLOW,
    normalise.ACTIVITY: Interaction.Kind.SOCIAL_EVENT,
}
# Inbound actions that count as the follower writing to us (unread, WeChat's 48-hour window).
COUNTS_AS_INBOUND = {normalise.MESSAGE, normalise.POSTBACK}


@dataclass
class FollowUps:
    """Provider calls to make once the batch has committed."""

    profile_identity_ids: set = field(default_factory=set)
    media_message_ids: list = field(default_factory=list)
    send_message_ids: list = field(default_factory=list)
    conversation_ids: set = field(default_factory=set)

    def merge(self, other: "FollowUps") -> None:
        self.profile_identity_ids |= other.profile_identity_ids
        self.media_message_ids += other.media_message_ids
        self.send_message_ids += other.send_message_ids
        self.conversation_ids |= other.conversation_ids


def inbound_events_process(
    *, event_ids=None, batch_size: int = BATCH_SIZE, follow_ups_enabled: bool = True
) -> dict:
    """Process pending events (these ids first, then the oldest others up to batch_size).

    follow_ups_enabled=False skips the provider calls (profiles, media, replies): for demo seeding.
    """
    follow_ups = FollowUps()
    with transaction.atomic():
        events = _claim(event_ids, batch_size)
        if not events:
            return {"processed": 0, "failed": 0, "more": False}
        done, failed = [], []
        try:
            with transaction.atomic():
                follow_ups.merge(_apply(events))
            done = events
        except Exception:
            logger.exception("social: a batch of %d events failed; retrying one by one", len(events))
            for event in events:
                try:
                    with transaction.atomic():
                        follow_ups.merge(_apply([event]))
                    done.append(event)
                except Exception as exc:
                    logger.exception("social: event %s failed", event.pk)
                    failed.append((event, f"{type(exc).__name__}: {exc}"[:2000]))
        now = timezone.now()
        if done:
            InboundEvent.objects.filter(pk__in=[e.pk for e in done]).update(
                status=InboundEvent.Status.PROCESSED, processed_at=now, attempts=F("attempts") + 1, error=""
            )
        for event, error in failed:
            InboundEvent.objects.filter(pk=event.pk).update(
                status=InboundEvent.Status.FAILED, attempts=F("attempts") + 1, error=error, processed_at=now
            )
        if follow_ups_enabled:
            transaction.on_commit(lambda: _enqueue_follow_ups(follow_ups))
    return {"processed": len(done), "failed": len(failed), "more": len(events) >= batch_size}


def _claim(event_ids, batch_size) -> list[InboundEvent]:
    pending = InboundEvent.objects.select_for_update(skip_locked=True).filter(
        status=InboundEvent.Status.PENDING
    )
    claimed = list(pending.filter(pk__in=list(event_ids or [])).order_by("id")) if event_ids else []
    room = batch_size - len(claimed)
    if room > 0:
        taken = {e.pk for e in claimed}
        others = pending.exclude(pk__in=taken).order_by("received_at", "id")[:room]
        claimed += list(others)
    return claimed


def _enqueue_follow_ups(follow_ups: FollowUps) -> None:
    from . import tasks

    try:
        if follow_ups.profile_identity_ids:
            tasks.refresh_profiles.delay(sorted(follow_ups.profile_identity_ids))
        if follow_ups.media_message_ids:
            tasks.fetch_media.delay(follow_ups.media_message_ids)
        if follow_ups.send_message_ids:
            tasks.send_queued_messages.delay(follow_ups.send_message_ids)
    except Exception as exc:  # broker down, or (eager mode) the provider unreachable: retried later
        logger.warning("social: follow-ups not done now: %s", exc)
    if follow_ups.conversation_ids:
        _publish_new_messages(follow_ups.conversation_ids)


SOCIAL_TOPIC = "social:conversations"


def _publish_new_messages(conversation_ids) -> None:
    """Tell open inboxes which conversations changed (pub/sub topic "social:conversations")."""
    from crm import pubsub

    pubsub.publish(SOCIAL_TOPIC, "conversations", json.dumps(sorted(conversation_ids)))
    from .inbox import conversations_changed  # h-inbox: the open inboxes and 360 pages refresh

    conversations_changed(conversation_ids)


def _apply(events: list[InboundEvent]) -> FollowUps:
    follow_ups = FollowUps()
    channels = {c.pk: c for c in Channel.objects.filter(pk__in={e.channel_id for e in events})}
    rules = autoreply.rules_for_channels(channels)
    by_channel = defaultdict(list)
    for event in events:
        channel = channels[event.channel_id]
        if channel.kind == Channel.Kind.LINE:
            inbound = normalise.from_line(event.payload)
        else:
            inbound = normalise.from_wechat(event.payload)
        inbound.received_at = event.received_at
        by_channel[channel.pk].append(inbound)
    for channel_id, inbounds in by_channel.items():
        inbounds.sort(key=lambda i: i.occurred_at)
        _apply_channel(channels[channel_id], inbounds, rules.get(channel_id, []), follow_ups)
    return follow_ups


def _apply_channel(channel: Channel, inbounds: list[Inbound], rules, follow_ups: FollowUps) -> None:
    groups = [i for i in inbounds if i.action == normalise.GROUP]
    if groups:
        _apply_group_events(channel, groups)
    personal = [i for i in inbounds if i.action not in (normalise.GROUP, normalise.IGNORE)]
    if not personal:
        return
    identities = _identities(channel, personal, follow_ups)
    _apply_follow_state(channel, personal, identities, follow_ups)
    conversations = _conversations(channel, personal, identities)
    messages, entries, conversation_changes = [], [], defaultdict(list)
    outcome_by_message = {}
    for inbound in personal:
        identity = identities[inbound.user_id]
        conversation = conversations[identity.pk]
        if inbound.action == normalise.UNSEND:
            _unsend(conversation, inbound)
            continue
        message = Message(
            conversation=conversation,
            direction=Message.Direction.IN,
            kind=inbound.kind if inbound.action != normalise.FOLLOW else Message.Kind.EVENT,
            text=inbound.text or _event_text(inbound),
            data={"event": inbound.event_name, **inbound.data},
            provider_message_id=inbound.provider_message_id,
            status=Message.Status.RECEIVED,
            created_at=inbound.occurred_at,
        )
        messages.append((inbound, message))
        conversation_changes[conversation.pk].append(inbound)
        if not inbound.standby:
            outcome = _auto_reply_outcome(channel, rules, inbound)
            if outcome is not None:
                outcome_by_message[id(message)] = outcome
    Message.objects.bulk_create([m for _, m in messages], batch_size=500)
    interaction_channel = INTERACTION_CHANNEL.get(channel.kind, Interaction.Channel.CRM)
    replies = []
    for inbound, message in messages:
        conversation = message.conversation
        entries.append(
            InteractionEntry(
                customer_id=conversation.customer_id,
                kind=TIMELINE_KIND.get(inbound.action, Interaction.Kind.SOCIAL_EVENT),
                channel=interaction_channel,
                summary=_summary(channel, inbound, message),
                occurred_at=inbound.occurred_at,
                subject=message,
                data={
                    "channel_id": channel.pk,
                    "conversation_id": conversation.pk,
                    "message_kind": message.kind,
                    **(
                        {"postback": inbound.data.get("data", "")}
                        if inbound.action == normalise.POSTBACK
                        else {}
                    ),
                    **({"scene": inbound.data["scene"]} if "scene" in inbound.data else {}),
                },
            )
        )
        if inbound.media_id:
            follow_ups.media_message_ids.append(message.pk)
        outcome = outcome_by_message.get(id(message))
        if outcome is not None:
            if outcome.tags:
                customer_tags_add(
                    customer=conversation.customer,
                    names=outcome.tags,
                    reason=_("auto-reply rule %(rules)s") % {"rules": ", ".join(outcome.rules)},
                )
            if outcome.reply:
                replies.append(
                    Message(
                        conversation=conversation,
                        direction=Message.Direction.OUT,
                        kind=Message.Kind.TEXT,
                        text=outcome.reply,
                        data={"auto_reply": outcome.reply_rule.name if outcome.reply_rule else "welcome"},
                        status=Message.Status.QUEUED,
                        created_at=timezone.now(),
                    )
                )
    record_interactions(entries)
    if replies:
        Message.objects.bulk_create(replies)
        follow_ups.send_message_ids += [m.pk for m in replies]
    _update_conversations(conversations, conversation_changes, replies)
    follow_ups.conversation_ids |= set(conversation_changes)
    for inbound in personal:  # h-inbox: a LINE account link carries the nonce we issued
        if inbound.event_name == "accountLink":
            binding.account_link_complete(
                channel=channel,
                event={"source": {"userId": inbound.user_id}, "link": inbound.data.get("accountLink") or {}},
            )


def _placeholder_name(channel: Channel, user_id: str) -> str:
    label = "LINE" if channel.kind == Channel.Kind.LINE else _("WeChat")
    return f"{label} {user_id[-6:]}"


def _identities(
    channel: Channel, inbounds: list[Inbound], follow_ups: FollowUps
) -> dict[str, SocialIdentity]:
    """The identity of every sender, created (with a new customer profile) for first-time senders."""
    provider = inbounds[0].provider
    user_ids = {i.user_id for i in inbounds}
    found = {
        identity.external_id: identity
        for identity in SocialIdentity.objects.filter(
            provider=provider, channel=str(channel.pk), external_id__in=user_ids
        )
    }
    first_seen = {}
    for inbound in inbounds:
        first_seen.setdefault(inbound.user_id, inbound)
    for user_id in sorted(user_ids - set(found)):
        found[user_id] = _identity_create(channel, provider, user_id, first_seen[user_id].occurred_at)
        follow_ups.profile_identity_ids.add(found[user_id].pk)
    return found


def _identity_create(channel: Channel, provider: str, user_id: str, at) -> SocialIdentity:
    try:
        with transaction.atomic():
            customer = customer_create(
                actor=None,
                name=_placeholder_name(channel, user_id),
                team=channel.team,
                source=f"{channel.get_kind_display()}: {channel.name}"[:100],
            )
            return SocialIdentity.objects.create(
                customer=customer,
                provider=provider,
                channel=str(channel.pk),
                external_id=user_id,
                display_name="",
                followed=True,
                followed_at=at,
            )
    except IntegrityError:  # another worker created it a moment ago: use theirs
        return SocialIdentity.objects.get(provider=provider, channel=str(channel.pk), external_id=user_id)


def _apply_follow_state(channel, inbounds, identities, follow_ups) -> None:
    changed = {}
    for inbound in inbounds:
        identity = identities[inbound.user_id]
        if inbound.action == normalise.FOLLOW:
            identity.followed, identity.followed_at, identity.unfollowed_at = True, inbound.occurred_at, None
            changed[identity.pk] = identity
            follow_ups.profile_identity_ids.add(identity.pk)
        elif inbound.action == normalise.UNFOLLOW:
            identity.followed, identity.unfollowed_at = False, inbound.occurred_at
            changed[identity.pk] = identity
    if changed:
        SocialIdentity.objects.bulk_update(changed.values(), ["followed", "followed_at", "unfollowed_at"])


def _conversations(channel, inbounds, identities) -> dict[int, Conversation]:
    """The conversation of each identity, created when new (not locked: see _conversations_apply)."""
    wanted = {identities[i.user_id].pk: identities[i.user_id] for i in inbounds}
    existing = Conversation.objects.filter(channel=channel, identity_id__in=list(wanted))
    by_identity = {c.identity_id: c for c in existing}
    missing = [identity for pk, identity in wanted.items() if pk not in by_identity]
    if missing:
        Conversation.objects.bulk_create(
            [
                Conversation(
                    channel=channel, customer_id=i.customer_id, identity_id=i.pk, team_id=channel.team_id
                )
                for i in missing
            ],
            ignore_conflicts=True,
        )
        new = existing.filter(identity_id__in=[i.pk for i in missing])
        by_identity.update({c.identity_id: c for c in new})
    return by_identity


@dataclass
class ConversationDelta:
    """What one batch adds to a conversation's state; applied at the very end, under a short row lock."""

    last_message_at: object = None
    last_inbound_at: object = None
    unread: int = 0
    reply_token: str = ""
    reply_token_at: object = None


def _later(a, b):
    return b if a is None or (b is not None and b > a) else a


def _update_conversations(conversations, changes, replies) -> None:
    deltas = {}
    for conversation_pk, inbounds in changes.items():
        delta = deltas.setdefault(conversation_pk, ConversationDelta())
        for inbound in inbounds:
            delta.last_message_at = _later(delta.last_message_at, inbound.occurred_at)
            # WeChat's 48-hour window starts when the follower acted; the callback arrives within seconds.
            received = inbound.received_at or inbound.occurred_at
            if inbound.action in COUNTS_AS_INBOUND or inbound.action == normalise.FOLLOW:
                delta.last_inbound_at = _later(delta.last_inbound_at, received)
            if inbound.action in COUNTS_AS_INBOUND:
                delta.unread += 1
            usable_token = inbound.reply_token and not inbound.standby and inbound.source_type == "user"
            if usable_token and (delta.reply_token_at is None or received >= delta.reply_token_at):
                delta.reply_token, delta.reply_token_at = inbound.reply_token, received
    if deltas:
        _conversations_apply(deltas)


CONVERSATION_UPDATE = """
UPDATE social_conversation AS c SET
  last_message_at = GREATEST(c.last_message_at, v.last_message_at),
  last_inbound_at = GREATEST(c.last_inbound_at, v.last_inbound_at),
  unread_count = c.unread_count + v.unread,
  status = CASE WHEN v.unread > 0 THEN 'open' ELSE c.status END,
  reply_token = CASE WHEN v.reply_token <> '' AND (c.reply_token_at IS NULL OR v.reply_token_at >= c.reply_token_at)
                THEN v.reply_token ELSE c.reply_token END,
  reply_token_at = CASE WHEN v.reply_token <> '' AND (c.reply_token_at IS NULL OR v.reply_token_at >= c.reply_token_at)
                   THEN v.reply_token_at ELSE c.reply_token_at END
FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::timestamptz[]) AS last_message_at,
             unnest(%s::timestamptz[]) AS last_inbound_at, unnest(%s::integer[]) AS unread,
             unnest(%s::text[]) AS reply_token, unnest(%s::timestamptz[]) AS reply_token_at) AS v
WHERE c.id = v.id
"""


def _conversations_apply(deltas: dict[int, ConversationDelta]) -> None:
    """Add the batch's deltas to the conversations, relative to what is stored now.

    The rows are locked in pk order only here, at the end of the batch, so two workers whose batches
    share conversations overlap for everything but this last statement (and never deadlock).
    """
    ids = sorted(deltas)
    if connection.vendor != "postgresql":
        rows = list(Conversation.objects.filter(pk__in=ids))
        for row in rows:
            delta = deltas[row.pk]
            row.last_message_at = _later(row.last_message_at, delta.last_message_at)
            row.last_inbound_at = _later(row.last_inbound_at, delta.last_inbound_at)
            row.unread_count += delta.unread
            if delta.unread:
                row.status = Conversation.Status.OPEN
            if delta.reply_token and (
                row.reply_token_at is None or delta.reply_token_at >= row.reply_token_at
            ):
                row.reply_token, row.reply_token_at = delta.reply_token, delta.reply_token_at
        Conversation.objects.bulk_update(
            rows,
            ["last_message_at", "last_inbound_at", "unread_count", "status", "reply_token", "reply_token_at"],
        )
        return
    ordered = [deltas[pk] for pk in ids]
    columns = [
        ids,
        [d.last_message_at for d in ordered],
        [d.last_inbound_at for d in ordered],
        [d.unread for d in ordered],
        [d.reply_token for d in ordered],
        [d.reply_token_at for d in ordered],
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM social_conversation WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
        cursor.execute(CONVERSATION_UPDATE, columns)


def _unsend(conversation, inbound) -> None:
    """The sender took the message back: keep the row for the record, drop its content."""
    Message.objects.filter(
        conversation=conversation,
        provider_message_id=inbound.provider_message_id,
        direction=Message.Direction.IN,
    ).update(text="", data={"unsent": True, "unsent_at": inbound.occurred_at.isoformat()}, media="")


def _auto_reply_outcome(channel, rules, inbound):
    if inbound.action == normalise.FOLLOW:
        trigger, text = AutoReplyRule.Trigger.FOLLOW, ""
    elif inbound.action == normalise.MESSAGE and inbound.kind == Message.Kind.TEXT:
        trigger, text = AutoReplyRule.Trigger.KEYWORD, inbound.text
    elif inbound.action == normalise.POSTBACK:
        trigger, text = AutoReplyRule.Trigger.POSTBACK, str(inbound.data.get("data") or inbound.text)
    else:
        return None
    if not rules and not (trigger == AutoReplyRule.Trigger.FOLLOW and channel.welcome_message):
        return None
    outcome = autoreply.evaluate(rules, channel=channel, trigger=trigger, text=text, at=inbound.occurred_at)
    return outcome if (outcome.reply or outcome.tags) else None


def _event_text(inbound: Inbound) -> str:
    if inbound.action == normalise.FOLLOW:
        return _("Followed again (unblocked)") if inbound.is_unblocked else _("Followed")
    if inbound.action == normalise.UNFOLLOW:
        return _("Unfollowed")
    return ""


KIND_LABELS = {
    "image": "[Image]",
    "video": "[Video]",
    "audio": "[Audio]",
    "file": "[File]",
    "location": "[Location]",
    "sticker": "[Sticker]",
    "link": "[Link]",
}


def _summary(channel: Channel, inbound: Inbound, message: Message) -> str:
    label = channel.get_kind_display()
    if inbound.action == normalise.POSTBACK:
        return _("%(channel)s: responded %(data)s") % {"channel": label, "data": inbound.text[:200]}
    if inbound.action in (normalise.FOLLOW, normalise.UNFOLLOW):
        return f"{label}: {message.text} ({channel.name})"
    body = message.text
    if message.kind in KIND_LABELS:
        body = f"{_(KIND_LABELS[message.kind])} {body}".strip()
    return f"{label}: {body}"[:500]


def _apply_group_events(channel: Channel, inbounds: list[Inbound]) -> None:
    for inbound in inbounds:
        group, _created = SocialGroup.objects.select_for_update().get_or_create(
            channel=channel,
            external_id=inbound.group_id,
            defaults={"kind": "room" if inbound.source_type == "room" else "group"},
        )
        members = set(group.member_ids or [])
        if inbound.event_name == "join":
            group.is_member, group.joined_at, group.left_at = True, inbound.occurred_at, None
        elif inbound.event_name == "leave":
            group.is_member, group.left_at = False, inbound.occurred_at
        elif inbound.event_name == "memberJoined":
            members |= set(inbound.members)
        elif inbound.event_name == "memberLeft":
            members -= set(inbound.members)
        group.member_ids = sorted(members)
        group.history = (group.history or [])[-199:] + [
            {"event": inbound.event_name, "at": inbound.occurred_at.isoformat(), "members": inbound.members}
        ]
        group.save()
