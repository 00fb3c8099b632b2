"""Knowledge-base pages, canned replies, the reply picker and suggested articles on a ticket."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.pagination import paginate
from customers.models import Customer
from customers.permissions import customers_visible_to

from . import knowledge, selectors
from .knowledge_forms import ArticleForm, CannedReplyForm
from .models import Article, ArticleVersion, CannedReply, Ticket
from .services import knowledge as kb_services
from .views import _attach_errors, permission


def _article(request, pk) -> Article:
    try:
        return (
            knowledge.articles_visible_to(request.user)
            .select_related("category", "current_version")
            .get(pk=pk)
        )
    except Article.DoesNotExist:
        raise Http404(_("No article found, or you do not have access to it.")) from None


@permission("tickets.view_article")
def kb_list(request):
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    category = request.GET.get("category", "")
    category = int(category) if category.isdigit() and len(category) < 10 else None
    status = request.GET.get("status", "") if knowledge.can_edit_articles(request.user) else ""
    articles = knowledge.article_search(user=request.user, q=q, category=category, status=status)
    page = paginate(articles, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "articles": page.items,
        "q": q,
        "category": category,
        "status": status,
        "categories": selectors.category_tree(active_only=True),
        "statuses": Article.Status.choices,
        "query": query.urlencode(),
        "can_edit": knowledge.can_edit_articles(request.user),
    }
    template = "tickets/kb_list.html"
    if request.htmx and request.htmx.target == "kb-results":
        template += "#kb-results"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@permission("tickets.view_article")
def kb_detail(request, pk):
    article = _article(request, pk)
    can_edit = knowledge.can_edit_articles(request.user)
    versions = list(article.versions.select_related("created_by")[:30]) if can_edit else []
    shown = article.current_version
    wanted = request.GET.get("version", "")
    if can_edit and wanted.isdigit():
        shown = next((v for v in versions if v.number == int(wanted)), shown)
    if shown is None and can_edit and versions:
        shown = versions[0]
    if shown is None:
        raise Http404(_("No article found, or you do not have access to it."))
    context = {
        "article": article,
        "shown": shown,
        "versions": versions,
        "can_edit": can_edit,
        "can_publish": request.user.has_perm("tickets.publish_article"),
        "newer_draft": bool(versions) and versions[0].pk != getattr(article.current_version, "pk", None),
    }
    return render(request, "tickets/kb_detail.html", context)


@permission("tickets.add_article")
@require_http_methods(["GET", "POST"])
def kb_create(request):
    form = ArticleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = kb_services.article_save(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Draft saved. Publish it when it is ready."))
            return redirect("tickets:kb-detail", pk=version.article_id)
    return render(request, "tickets/kb_form.html", {"form": form})


@permission("tickets.change_article")
@require_http_methods(["GET", "POST"])
def kb_edit(request, pk):
    article = _article(request, pk)
    latest = article.versions.first()
    initial = {"title": latest.title if latest else article.title, "body": latest.body if latest else ""}
    initial["category"] = article.category_id
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            kb_services.article_save(actor=request.user, article=article, **form.cleaned_data)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request, _("Draft saved. Readers still see the published version until you publish.")
            )
            return redirect("tickets:kb-detail", pk=article.pk)
    return render(request, "tickets/kb_form.html", {"form": form, "article": article})


@permission("tickets.publish_article")
@require_POST
def kb_publish(request, pk):
    article = _article(request, pk)
    version = None
    number = request.POST.get("version", "")
    if number.isdigit() and len(number) < 10:
        version = ArticleVersion.objects.filter(article=article, number=int(number)).first()
    try:
        kb_services.article_publish(actor=request.user, article=article, version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Published."))
    return redirect("tickets:kb-detail", pk=article.pk)


@permission("tickets.publish_article")
@require_POST
def kb_archive(request, pk):
    article = _article(request, pk)
    kb_services.article_archive(actor=request.user, article=article)
    messages.success(request, _("Archived: readers no longer see this article."))
    return redirect("tickets:kb-detail", pk=article.pk)


@permission("tickets.view_article")
def kb_suggest(request):
    """Articles that may answer the ticket, from its subject (the ticket page loads this lazily)."""
    ticket_id = request.GET.get("ticket", "")
    if not ticket_id.isdigit() or len(ticket_id) > 18:
        raise Http404
    try:
        ticket = selectors.tickets_visible_to(request.user).only("pk", "subject").get(pk=int(ticket_id))
    except Ticket.DoesNotExist:
        raise Http404(_("No ticket found, or you do not have access to it.")) from None
    articles = knowledge.article_suggestions(user=request.user, text=ticket.subject)
    return render(request, "tickets/kb_suggestions.html", {"articles": articles, "ticket": ticket})


# --- canned replies ---------------------------------------------------------------------------------


def _reply(request, pk) -> CannedReply:
    try:
        return knowledge.canned_replies_for(request.user).get(pk=pk)
    except CannedReply.DoesNotExist:
        raise Http404(_("No canned reply found, or you do not have access to it.")) from None


@permission("tickets.view_cannedreply")
def canned_list(request):
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    page = paginate(
        knowledge.canned_replies_for(request.user, q).select_related("owner", "team"), request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    replies = [(reply, knowledge.canned_reply_editable_by(request.user, reply)) for reply in page.items]
    return render(
        request,
        "tickets/canned_list.html",
        {"page": page, "replies": replies, "q": q, "query": query.urlencode()},
    )


def _canned_form_page(request, form, reply=None):
    return render(request, "tickets/canned_form.html", {"form": form, "reply": reply})


@permission("tickets.add_cannedreply")
@require_http_methods(["GET", "POST"])
def canned_create(request):
    form = CannedReplyForm(request.POST or None, initial={"team": request.user.team_id})
    if request.method == "POST" and form.is_valid():
        try:
            kb_services.canned_reply_save(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Canned reply saved."))
            return redirect("tickets:canned")
    return _canned_form_page(request, form)


@permission("tickets.change_cannedreply")
@require_http_methods(["GET", "POST"])
def canned_edit(request, pk):
    reply = _reply(request, pk)
    if not knowledge.canned_reply_editable_by(request.user, reply):
        raise PermissionDenied
    initial = {f: getattr(reply, f) for f in ("title", "shortcut", "body", "shared")}
    initial["team"] = reply.team_id
    form = CannedReplyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            kb_services.canned_reply_save(actor=request.user, reply=reply, **form.cleaned_data)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Canned reply saved."))
            return redirect("tickets:canned")
    return _canned_form_page(request, form, reply)


@permission("tickets.delete_cannedreply")
@require_http_methods(["GET", "POST"])
def canned_delete(request, pk):
    reply = _reply(request, pk)
    if not knowledge.canned_reply_editable_by(request.user, reply):
        raise PermissionDenied
    if request.method == "POST":
        kb_services.canned_reply_delete(actor=request.user, reply=reply)
        messages.success(request, _("Canned reply deleted."))
        return redirect("tickets:canned")
    return render(request, "tickets/canned_confirm_delete.html", {"reply": reply})


def _picker_context(request) -> knowledge.ReplyContext:
    """The ticket and customer the reply is for, when the user may see them (404 otherwise)."""
    context = knowledge.ReplyContext(agent=request.user)
    ticket_id, customer_id = request.GET.get("ticket", ""), request.GET.get("customer", "")
    if ticket_id:
        if not ticket_id.isdigit() or len(ticket_id) > 18:
            raise Http404
        try:
            context.ticket = (
                selectors.tickets_visible_to(request.user).select_related("customer").get(pk=int(ticket_id))
            )
        except Ticket.DoesNotExist:
            raise Http404(_("No ticket found, or you do not have access to it.")) from None
        context.customer = context.ticket.customer
    elif customer_id:
        if not customer_id.isdigit() or len(customer_id) > 18:
            raise Http404
        try:
            context.customer = customers_visible_to(request.user).get(pk=int(customer_id))
        except Customer.DoesNotExist:
            raise Http404(_("No customer found, or you do not have access to it.")) from None
    return context


@permission("tickets.view_cannedreply")
def canned_picker(request):
    """The picker's list: replies matching the search, each already filled in for this ticket or customer."""
    reply_context = _picker_context(request)
    replies = list(
        knowledge.canned_replies_for(request.user, request.GET.get("q", "").replace("\x00", ""))[:15]
    )
    rendered = [(reply, knowledge.canned_render(reply.body, reply_context)) for reply in replies]
    return render(
        request,
        "tickets/_canned_reply_picker.html#canned-options",
        {"rendered": rendered, "target": request.GET.get("target", "").replace("\x00", "")[:100]},
    )
