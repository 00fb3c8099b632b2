"""The social inbox and its live stream; the account-link pages customers open from LINE."""

import mimetypes

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.sse import event_stream, sse_response
from customers.permissions import customers_visible_to

from . import binding, inbox, inbox_selectors
from .inbox_forms import AssignForm, NoteForm, ReplyForm, TicketForm
from .models import Conversation, Message

MEDIA_SALT = "social.media"
# LINE fetches an image we send when it delivers it; the inbox makes a fresh link on every page.
MEDIA_MAX_AGE = 30 * 24 * 3600


def _require_inbox(user):
    if not user.has_perm(inbox_selectors.VIEW_PERMISSION):
        raise PermissionDenied


def _conversation(request, pk) -> Conversation:
    _require_inbox(request.user)
    try:
        return inbox_selectors.conversation_for(request.user, pk)
    except Conversation.DoesNotExist:
        raise Http404(_("No conversation found, or you do not have access to it.")) from None


def _list_context(request):
    folder = request.GET.get("folder", "")
    if folder not in inbox_selectors.FOLDERS:
        folder = "mine" if request.user.social_conversations.filter(status="open").exists() else "unassigned"
    status = request.GET.get("status", "open")
    if status not in ("open", "closed", "any"):
        status = "open"
    q = request.GET.get("q", "").replace("\x00", "")[:100]
    conversations = list(
        inbox_selectors.inbox_list(user=request.user, folder=folder, q=q, status=status)[:50]
    )
    return {
        "folder": folder,
        "status": status,
        "q": q,
        "conversations": conversations,
        "counts": inbox_selectors.folder_counts(user=request.user),
        "folders": [
            ("unassigned", _("Unassigned")),
            ("mine", _("Mine")),
            ("team", _("My team")),
            ("all", _("All")),
        ],
    }


def _thread_context(request, conversation, *, thread=None, reply_form=None, note_form=None, error=""):
    thread = thread if thread is not None else inbox_selectors.thread(conversation)
    return {
        "conversation": conversation,
        "thread": thread,
        "last_id": thread[-1].pk if thread else 0,
        "first_id": thread[0].pk if thread else 0,
        "summary": inbox_selectors.customer_summary(user=request.user, conversation=conversation),
        "proposals": inbox_selectors.binding_proposals(
            user=request.user, conversation=conversation, messages=thread
        ),
        "window_closed": inbox.wechat_window_closed(conversation),
        "window_message": inbox.window_closed_message(),
        "reply_form": reply_form or ReplyForm(),
        "note_form": note_form or NoteForm(),
        "assign_form": AssignForm(
            initial={"assignee": conversation.assignee_id, "team": conversation.team_id}
        ),
        "ticket_form": TicketForm(),
        "can_act": request.user.has_perm(inbox.CHANGE_PERMISSION),
        "can_assign_others": request.user.has_perm("social.assign_conversation"),
        "can_ticket": request.user.has_perm("tickets.add_ticket"),
        "error": error,
    }


@login_required
def inbox_page(request):
    """The inbox: folders and conversation list; with a conversation open, its thread and summary."""
    _require_inbox(request.user)
    context = _list_context(request)
    template = "social/inbox.html"
    if request.htmx and request.htmx.target == "conversation-list":
        response = render(request, template + "#conversation-list", context)
        response["Vary"] = "HX-Request"
        return response
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@login_required
def conversation_page(request, pk):
    """One conversation in the inbox. htmx asks for parts: new messages (after=), older ones (before=),
    or the whole thread pane."""
    conversation = _conversation(request, pk)
    target = request.htmx.target if request.htmx else None
    if target in ("thread-messages", "thread-older"):
        before = _int(request.GET.get("before")) if target == "thread-older" else None
        thread = inbox_selectors.thread(conversation, before=before)
        if before is None:
            inbox.conversation_mark_read(conversation=conversation, actor=request.user)
        return render(
            request,
            "social/inbox.html#messages",
            {"conversation": conversation, "thread": thread, "older": before is not None},
        )
    inbox.conversation_mark_read(conversation=conversation, actor=request.user)
    context = _thread_context(request, conversation)
    if target == "thread-pane":
        return render(request, "social/inbox.html#thread-pane", context)
    context.update(_list_context(request))
    return render(request, "social/inbox.html", context)


def _int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**62 else None


def _pane(request, conversation, **kwargs):
    conversation = inbox_selectors.conversation_for(request.user, conversation.pk)
    response = render(
        request, "social/inbox.html#thread-pane", _thread_context(request, conversation, **kwargs)
    )
    response["HX-Retarget"] = "#thread-pane"
    response["HX-Reswap"] = "outerHTML"
    return response


def _done(request, conversation, message_text=""):
    if request.htmx:
        return _pane(request, conversation)
    if message_text:
        messages.success(request, message_text)
    return redirect("inbox:conversation", pk=conversation.pk)


def _failed(request, conversation, exc, **kwargs):
    text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    if request.htmx:
        return _pane(request, conversation, error=text, **kwargs)
    messages.error(request, text)
    return redirect("inbox:conversation", pk=conversation.pk)


@login_required
@require_POST
def reply(request, pk):
    conversation = _conversation(request, pk)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _failed(
            request, conversation, ValidationError(_("Write at most 5000 characters.")), reply_form=form
        )
    try:
        inbox.message_send(
            conversation=conversation,
            actor=request.user,
            text=form.cleaned_data["text"],
            image=form.cleaned_data["image"],
        )
    except ValidationError as exc:
        return _failed(request, conversation, exc, reply_form=form)
    return _done(request, conversation)


@login_required
@require_POST
def note(request, pk):
    conversation = _conversation(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _failed(request, conversation, ValidationError(_("Write the note first.")), note_form=form)
    try:
        inbox.note_add(conversation=conversation, actor=request.user, text=form.cleaned_data["text"])
    except ValidationError as exc:
        return _failed(request, conversation, exc, note_form=form)
    return _done(request, conversation)


@login_required
@require_POST
def assign(request, pk):
    conversation = _conversation(request, pk)
    if request.POST.get("take") == "1":
        assignee, team = request.user, None
    else:
        form = AssignForm(request.POST)
        if not form.is_valid():
            return _failed(
                request, conversation, ValidationError(_("Choose an agent or a team from the list."))
            )
        assignee, team = form.cleaned_data["assignee"], form.cleaned_data["team"]
    try:
        inbox.conversation_assign(conversation=conversation, actor=request.user, assignee=assignee, team=team)
    except ValidationError as exc:
        return _failed(request, conversation, exc)
    return _done(request, conversation, _("Assignment saved."))


@login_required
@require_POST
def set_status(request, pk):
    conversation = _conversation(request, pk)
    if request.POST.get("status") == "closed":
        inbox.conversation_close(conversation=conversation, actor=request.user)
    elif request.POST.get("status") == "open":
        inbox.conversation_reopen(conversation=conversation, actor=request.user)
    else:
        return _failed(request, conversation, ValidationError(_("Choose open or closed.")))
    return _done(request, conversation)


@login_required
@require_POST
def retry(request, pk, message_pk):
    conversation = _conversation(request, pk)
    message = conversation.messages.filter(pk=message_pk).first()
    if message is None:
        raise Http404
    try:
        inbox.message_retry(message=message, actor=request.user)
    except ValidationError as exc:
        return _failed(request, conversation, exc)
    return _done(request, conversation)


@login_required
@require_POST
def ticket(request, pk):
    conversation = _conversation(request, pk)
    if not request.user.has_perm("tickets.add_ticket"):
        raise PermissionDenied
    form = TicketForm(request.POST)
    if not form.is_valid():
        return _failed(request, conversation, ValidationError(_("Enter a subject and choose a priority.")))
    try:
        created = inbox.conversation_ticket_create(
            conversation=conversation, actor=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        return _failed(request, conversation, exc)
    messages.success(request, _("Ticket #%(number)s opened.") % {"number": created.number})
    url = reverse("tickets:detail", args=[created.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def bind(request, pk):
    """Search a customer to bind the conversation's LINE/WeChat account to, then confirm."""
    conversation = _conversation(request, pk)
    if request.method == "POST":
        customer = (
            customers_visible_to(request.user).filter(pk=_int(request.POST.get("customer")) or 0).first()
        )
        if customer is None:
            return _failed(request, conversation, ValidationError(_("Choose a customer from the list.")))
        try:
            binding.identity_bind(actor=request.user, conversation=conversation, customer=customer)
        except ValidationError as exc:
            return _failed(request, conversation, exc)
        return _done(request, conversation, _("Bound to %(name)s.") % {"name": customer.name})
    q = request.GET.get("q", "").replace("\x00", "")
    results = binding.customer_search(user=request.user, q=q, exclude=conversation.customer_id)
    return render(
        request, "social/inbox.html#bind-results", {"conversation": conversation, "results": results, "q": q}
    )


@login_required
@require_POST
def link_invite(request, pk):
    conversation = _conversation(request, pk)
    try:
        binding.link_invite(actor=request.user, conversation=conversation)
    except ValidationError as exc:
        return _failed(request, conversation, exc)
    return _done(request, conversation, _("Invitation sent."))


def media(request, token):
    """A message's or broadcast's image by signed link: LINE fetches what we send from here, and the
    inbox shows what customers sent. The link is the permission; it names one file."""
    try:
        kind, pk = signing.loads(token, salt=MEDIA_SALT, max_age=MEDIA_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404 from None
    if kind == "m":
        row = Message.objects.filter(pk=pk).exclude(media="").first()
        file = row.media if row else None
    else:
        from .models import BroadcastVariant

        row = BroadcastVariant.objects.filter(pk=pk).exclude(image="").first()
        file = row.image if row else None
    if file is None:
        raise Http404
    # Customers send files too: anything but a picture, a video or a sound is a download, never a page
    # rendered on our origin (an .html or .svg file from a follower must not run in an operator's session).
    content_type, _encoding = mimetypes.guess_type(file.name)
    inline = (content_type or "").split("/")[0] in {
        "image",
        "video",
        "audio",
    } and content_type != "image/svg+xml"
    try:
        response = FileResponse(file.open("rb"), as_attachment=not inline)
    except FileNotFoundError:
        raise Http404 from None
    if not inline:
        response["Content-Type"] = "application/octet-stream"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


async def stream(request):
    """The inbox's live connection: ids of conversations that changed (the page then fetches them)."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse(status=401)
    allowed = await sync_to_async(user.has_perm)(inbox_selectors.VIEW_PERMISSION)
    if not allowed:
        return HttpResponse(status=403)
    return sse_response(event_stream(inbox.INBOX_CHANNEL))


@require_http_methods(["GET", "POST"])
def link_page(request, token):
    """Public: the customer proves who they are (a code e-mailed to an address on file), then LINE links."""
    try:
        binding.link_token_read(token)
    except signing.BadSignature:
        return render(request, "social/link.html", {"expired": True}, status=404)
    step, error = "email", ""
    if request.method == "POST":
        if "code" in request.POST:
            try:
                return redirect(binding.link_code_check(token=token, code=request.POST.get("code", "")[:10]))
            except ValidationError as exc:
                step, error = "code", " ".join(exc.messages)
        else:
            binding.link_code_send(token=token, email=request.POST.get("email", "")[:254])
            step = "code"
    return render(request, "social/link.html", {"token": token, "step": step, "error": error})
