"""Reads for the knowledge base and canned replies: who sees what, search, suggestions, variables.

Search works the same on PostgreSQL and SQLite: the text is cut into terms (Latin words and, for
Chinese, every pair of adjacent characters, since Chinese is written without spaces and a two-character
pair is the commonest word length), each term is matched with a case-insensitive LIKE on the
published title and text, and articles are ranked by how many terms they hold, title hits weighing
more. On PostgreSQL a trigram GIN index on the published text serves LIKE for terms of three
characters and more; no segmenter or text-search configuration for Chinese is needed, and a
misspelt or partial word still finds the article. Everything is one query.
"""

import re
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from crm import roles

from .models import Article, CannedReply

MAX_TERMS = 12
LATIN_WORD = re.compile(r"[0-9A-Za-z][0-9A-Za-z'_-]{1,}")
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STOPWORDS = {
    "the", "and", "for", "with", "not", "can", "cannot", "can't", "you", "your", "are", "was", "is",
    "how", "what", "why", "when", "from", "this", "that", "have", "has", "does", "doesn't", "my", "to",
    "of", "in", "on", "it", "an", "re", "fw", "fwd", "do", "me", "we", "our", "please", "help",
}  # fmt: skip
CJK_STOP = {"的", "了", "是", "我", "不", "在", "有", "嗎", "吗", "請", "请", "問", "问", "題", "题"}


def search_terms(text: str) -> list[str]:
    """Latin words and Chinese character pairs (single characters when a run is one long), deduplicated."""
    terms = []
    for word in LATIN_WORD.findall(text or ""):
        if word.lower() not in STOPWORDS:
            terms.append(word.lower())
    for run in CJK_RUN.findall(text or ""):
        run = "".join(ch for ch in run if ch not in CJK_STOP) or run
        if len(run) == 1:
            terms.append(run)
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    seen, unique = set(), []
    for term in terms:
        if term not in seen:
            seen.add(term)
            unique.append(term)
    return unique[:MAX_TERMS]


def can_edit_articles(user) -> bool:
    return user.has_perm("tickets.change_article")


def articles_visible_to(user) -> QuerySet[Article]:
    """Readers see published articles; editors also see drafts and archived ones."""
    if not user.is_authenticated or not user.has_perm("tickets.view_article"):
        return Article.objects.none()
    if can_edit_articles(user):
        return Article.objects.all()
    return Article.objects.filter(status=Article.Status.PUBLISHED)


def article_search(*, user, q: str = "", category=None, status: str = "") -> QuerySet[Article]:
    """Articles `user` may read, matching every term of `q`, best matches first."""
    queryset = articles_visible_to(user).select_related("category", "current_version")
    if category:
        queryset = queryset.filter(category_id=category)
    if status in Article.Status.values:
        queryset = queryset.filter(status=status)
    terms = search_terms(q)
    if not terms:
        return queryset.order_by("title", "id")
    # Drafts are found by their working title too, so editors can find what they are writing.
    matched = [Q(search_document__icontains=t) | Q(title__icontains=t) for t in terms]
    condition = matched[0]
    for part in matched[1:]:
        condition &= part
    # Chinese pairs of a longer phrase may not all occur: fall back to ranking any of them.
    if not queryset.filter(condition).exists() and len(terms) > 1:
        return _ranked(queryset, terms)
    return _ranked(queryset.filter(condition), terms)


def _score(terms):
    parts = [
        Case(When(title__icontains=t, then=Value(3)), default=Value(0), output_field=IntegerField())
        for t in terms
    ]
    parts += [
        Case(When(search_document__icontains=t, then=Value(1)), default=Value(0), output_field=IntegerField())
        for t in terms
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _ranked(queryset, terms):
    return queryset.annotate(score=_score(terms)).filter(score__gt=0).order_by("-score", "title", "id")


def article_suggestions(*, user, text: str, limit: int = 5) -> list[Article]:
    """Published articles that look relevant to `text` (a ticket's subject), best first. One query."""
    terms = search_terms(text)
    if not terms or not user.has_perm("tickets.view_article"):
        return []
    published = Article.objects.filter(status=Article.Status.PUBLISHED).select_related("category")
    return list(_ranked(published, terms)[:limit])


# --- canned replies ---------------------------------------------------------------------------------


def canned_replies_for(user, q: str = "") -> QuerySet[CannedReply]:
    """Shared replies, the user's own, and their team's."""
    if not user.is_authenticated or not user.has_perm("tickets.view_cannedreply"):
        return CannedReply.objects.none()
    condition = Q(shared=True) | Q(owner=user)
    if user.team_id:
        condition |= Q(team_id=user.team_id)
    queryset = CannedReply.objects.filter(condition)
    text = (q or "").strip().lstrip("/")[:100]
    if text:
        queryset = queryset.filter(
            Q(title__icontains=text) | Q(shortcut__istartswith=text) | Q(body__icontains=text)
        )
    return queryset.order_by("title", "id")


def canned_reply_editable_by(user, reply: CannedReply) -> bool:
    if not user.has_perm("tickets.change_cannedreply"):
        return False
    return roles.is_admin(user) or reply.owner_id == user.pk or roles.is_manager(user)


VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+|today)\s*\}\}")
VARIABLES = {
    "customer.name": "王小明",
    "customer.first_name": "小明",
    "agent.name": "林雅婷",
    "agent.first_name": "雅婷",
    "ticket.number": "1024",
    "ticket.subject": "無法登入 App",
    "today": "2026-11-23",
}


def first_name(name: str) -> str:
    """The name to greet someone by: the first word of a Latin name, the given name of a Chinese one."""
    name = (name or "").strip()
    if not name:
        return ""
    if " " in name:
        return name.split()[0]
    if CJK_RUN.fullmatch(name) and 2 <= len(name) <= 4:
        return name[1:] if len(name) <= 3 else name[2:]
    return name


@dataclass
class ReplyContext:
    customer: object = None
    agent: object = None
    ticket: object = None


def canned_values(context: ReplyContext) -> dict[str, str]:
    values = {"today": timezone.localdate().isoformat()}
    customer = context.customer
    if customer is not None:
        values["customer.name"] = customer.name
        values["customer.first_name"] = first_name(customer.name)
    agent = context.agent
    if agent is not None:
        full = agent.get_full_name() or agent.get_username()
        values["agent.name"] = full
        values["agent.first_name"] = agent.first_name or first_name(full)
    ticket = context.ticket
    if ticket is not None:
        values["ticket.number"] = str(ticket.number or "")
        values["ticket.subject"] = ticket.subject
    return values


def canned_render(body: str, context: ReplyContext) -> str:
    """The reply with its known variables filled in. Only the names in VARIABLES are replaced, by
    plain text; anything else (a typo, a variable with no value here) is left as typed for the
    agent to see. No template engine ever runs on the text."""
    values = canned_values(context)

    def replace(match):
        name = match.group(1)
        return values.get(name, match.group(0)) if name in VARIABLES else match.group(0)

    return VARIABLE.sub(replace, body or "")


def unknown_variables(body: str) -> list[str]:
    return sorted({m.group(1) for m in re.finditer(r"\{\{\s*([^}]*?)\s*\}\}", body or "")} - set(VARIABLES))
