"""Auto-reply and tagging rules: which reply and which tags an inbound message, postback or follow earns.

Rules are tried in priority order. Every matching rule adds its tags; the first matching rule with a
reply text answers. A regex rule may capture a tag from the text with a named group `(?P<tag>...)`, e.g.
`campaign=(?P<tag>[\\w-]+)` on postback data tags the customer with the campaign name.
"""

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import AutoReplyRule

MAX_TEXT = 2000


@dataclass
class Outcome:
    reply: str = ""
    reply_rule: AutoReplyRule | None = None
    tags: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def pattern_validate(match: str, pattern: str) -> None:
    if match == AutoReplyRule.Match.REGEX:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError({"pattern": _("Not a valid pattern: %(error)s") % {"error": exc}}) from exc


def rules_for_channels(channel_ids) -> dict[int, list[AutoReplyRule]]:
    """Active rules per channel, with their tags, in the order they are tried: two queries."""
    rules: dict[int, list[AutoReplyRule]] = {}
    queryset = (
        AutoReplyRule.objects.filter(channel_id__in=list(channel_ids), is_active=True)
        .prefetch_related("add_tags")
        .order_by("priority", "id")
    )
    for rule in queryset:
        rules.setdefault(rule.channel_id, []).append(rule)
    return rules


def _matches(rule: AutoReplyRule, text: str) -> re.Match | bool:
    pattern = rule.pattern or ""
    if rule.match == AutoReplyRule.Match.EXACT:
        return text.strip().casefold() == pattern.strip().casefold()
    if rule.match == AutoReplyRule.Match.CONTAINS:
        return bool(pattern) and pattern.casefold() in text.casefold()
    try:
        return re.search(pattern, text, flags=re.IGNORECASE) or False
    except re.error:
        return False


def _time_ok(rule: AutoReplyRule, channel, at) -> bool:
    if rule.when == AutoReplyRule.When.ALWAYS:
        return True
    inside = channel.in_office_hours(at)
    return inside if rule.when == AutoReplyRule.When.OFFICE_HOURS else not inside


def evaluate(rules: list[AutoReplyRule], *, channel, trigger: str, text: str = "", at=None) -> Outcome:
    outcome = Outcome()
    text = (text or "")[:MAX_TEXT]
    for rule in rules:
        if rule.trigger != trigger or not _time_ok(rule, channel, at):
            continue
        if trigger != AutoReplyRule.Trigger.FOLLOW:
            found = _matches(rule, text)
            if not found:
                continue
            if isinstance(found, re.Match) and "tag" in found.re.groupindex and found.group("tag"):
                outcome.tags.append(found.group("tag")[:50])
        outcome.rules.append(rule.name)
        outcome.tags.extend(tag.name for tag in rule.add_tags.all())
        if rule.reply_text and not outcome.reply:
            outcome.reply, outcome.reply_rule = rule.reply_text, rule
    if trigger == AutoReplyRule.Trigger.FOLLOW and not outcome.reply and channel.welcome_message:
        outcome.reply = channel.welcome_message
    outcome.tags = list(dict.fromkeys(outcome.tags))
    return outcome
