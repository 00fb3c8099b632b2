"""Writes for the knowledge base and canned replies."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tickets import knowledge
from tickets.models import Article, ArticleVersion, CannedReply, Category

MAX_BODY = 100_000


def _check(actor, codename: str, message: str) -> None:
    if not actor.has_perm(f"tickets.{codename}"):
        raise PermissionDenied(message)


def _unique_slug(title: str, article_pk: int | None) -> str:
    base = slugify(title, allow_unicode=True)[:200] or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exclude(pk=article_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def article_save(
    *, actor, title: str, body: str, category: Category | None = None, article: Article | None = None
) -> ArticleVersion:
    """Save an edit as a new draft version. Readers keep seeing the published version until it is
    published. A new article starts as a draft."""
    _check(actor, "add_article" if article is None else "change_article", _("You may not edit articles."))
    title, body = (title or "").strip()[:200], (body or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("Give the article a title.")
    if not body:
        errors["body"] = _("Write the article's text.")
    elif len(body) > MAX_BODY:
        errors["body"] = _("The text is too long (at most %(n)d characters).") % {"n": MAX_BODY}
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        if article is None:
            article = Article.objects.create(
                title=title, slug=_unique_slug(title, None), author=actor, category=category
            )
        else:
            article = Article.objects.select_for_update().get(pk=article.pk)
        number = (article.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ArticleVersion.objects.create(
            article=article, number=number, title=title, body=body, created_by=actor, created_at=now
        )
        article.category = category
        article.updated_at = now
        fields = ["category", "updated_at"]
        if article.status != Article.Status.PUBLISHED:
            article.title = title  # an unpublished article goes by its working title
            fields.append("title")
        article.save(update_fields=fields)
    return version


def article_publish(*, actor, article: Article, version: ArticleVersion | None = None) -> Article:
    """Make `version` (the newest by default) what readers see."""
    _check(actor, "publish_article", _("You may not publish articles."))
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        version = version or article.versions.order_by("-number").first()
        if version is None or version.article_id != article.pk:
            raise ValidationError(_("There is no version to publish."))
        ArticleVersion.objects.filter(pk=version.pk).update(published=True)
        article.current_version = version
        article.status = Article.Status.PUBLISHED
        article.title = version.title
        article.search_document = f"{version.title}\n{version.body}"
        article.published_at = article.updated_at = timezone.now()
        article.save()
    return article


def article_archive(*, actor, article: Article) -> Article:
    """Take an article away from readers; its versions stay."""
    _check(actor, "publish_article", _("You may not unpublish articles."))
    Article.objects.filter(pk=article.pk).update(
        status=Article.Status.ARCHIVED, search_document="", updated_at=timezone.now()
    )
    article.refresh_from_db()
    return article


def canned_reply_save(
    *,
    actor,
    title: str,
    body: str,
    shortcut: str = "",
    team=None,
    shared: bool = True,
    reply: CannedReply | None = None,
) -> CannedReply:
    if reply is None:
        _check(actor, "add_cannedreply", _("You may not add canned replies."))
        reply = CannedReply(owner=actor)
    elif not knowledge.canned_reply_editable_by(actor, reply):
        raise PermissionDenied(_("You may not change this canned reply."))
    title, body = (title or "").strip()[:100], (body or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("Give the reply a title.")
    if not body:
        errors["body"] = _("Write the reply's text.")
    unknown = knowledge.unknown_variables(body)
    if unknown:
        errors["body"] = _("Unknown variables: %(names)s. You can use: %(known)s.") % {
            "names": ", ".join("{{ " + name + " }}" for name in unknown),
            "known": ", ".join("{{ " + name + " }}" for name in knowledge.VARIABLES),
        }
    if errors:
        raise ValidationError(errors)
    reply.title, reply.body = title, body[:10_000]
    reply.shortcut = slugify(shortcut or "", allow_unicode=True)[:30]
    reply.team, reply.shared = team, bool(shared)
    reply.updated_at = timezone.now()
    reply.save()
    return reply


def canned_reply_delete(*, actor, reply: CannedReply) -> None:
    if not actor.has_perm("tickets.delete_cannedreply") or not knowledge.canned_reply_editable_by(
        actor, reply
    ):
        raise PermissionDenied(_("You may not delete this canned reply."))
    reply.delete()
