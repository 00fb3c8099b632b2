from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import pubsub, roles
from crm.sse import event_stream, sse_response
from customers.models import ContactPoint
from customers.permissions import customers_visible_to

from . import dialer, selectors, services
from .cards import card_html
from .models import AgentStatus, Call, Disposition
from .permissions import calls_visible_to
from .templatetags.callcenter_tags import agent_presence


async def stream(request):
    """The agent's one live connection: caller cards and call updates as server-sent events."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse(status=401)

    async def initial():
        return await sync_to_async(selectors.current_cards)(user)

    return sse_response(event_stream(pubsub.user_channel(user.pk), initial=initial))


def _call_for(request, pk) -> Call:
    call = get_object_or_404(calls_visible_to(request.user).select_related("customer"), pk=pk)
    services.check_can_handle(request.user, call)
    return call


@login_required
@require_POST
def wrap_up(request, pk):
    call = _call_for(request, pk)
    disposition = None
    if request.POST.get("disposition"):
        try:
            disposition = Disposition.objects.filter(active=True).get(pk=int(request.POST["disposition"]))
        except (ValueError, Disposition.DoesNotExist):
            return _card(request, call, error=_("Choose a disposition from the list."))
    try:
        call = services.call_wrap_up(
            call=call,
            actor=request.user,
            disposition=disposition,
            note=request.POST.get("note", "")[:5000].replace("\x00", ""),
            create_ticket=request.POST.get("create_ticket") == "1",
            create_task=request.POST.get("create_task") == "1",
        )
    except ValidationError as exc:
        return _card(request, call, error=" ".join(exc.messages))
    return _card(request, call)


@login_required
@require_POST
def set_customer(request, pk):
    call = _call_for(request, pk)
    try:
        customer_id = int(request.POST.get("customer", ""))
    except ValueError:
        return _card(request, call, error=_("Choose a customer."))
    allowed = set(call.candidates) | {call.customer_id}
    customer = customers_visible_to(request.user).filter(pk=customer_id).first()
    if customer is None or (
        customer.pk not in allowed and not request.user.has_perm("customers.change_customer")
    ):
        raise PermissionDenied
    call = services.call_set_customer(call=call, customer=customer, actor=request.user)
    return _card(request, call)


def _card(request, call, error=""):
    call.refresh_from_db()
    return HttpResponse(card_html(call=call, user=request.user, error=error))


@login_required
@require_POST
def presence(request):
    if not request.user.has_perm("callcenter.change_call"):
        raise PermissionDenied
    try:
        services.agent_status_set(user=request.user, status=request.POST.get("status", ""))
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400)
    return render(request, "callcenter/presence.html", agent_presence(request.user))


@login_required
@permission_required("callcenter.view_call", raise_exception=True)
def agents(request):
    """Who is available, and who is on a call now (managers and admins)."""
    if not (roles.is_manager(request.user) or roles.is_admin(request.user)):
        raise PermissionDenied
    rows = selectors.agent_board(user=request.user)
    return render(
        request,
        "callcenter/agents.html",
        {"rows": rows, "now": timezone.now(), "statuses": AgentStatus.Status.choices},
    )


@login_required
@require_POST
def dial(request):
    """Click-to-call. The button posts the contact's id, never its number, so masked numbers stay masked."""
    if not request.user.has_perm("callcenter.change_call"):
        raise PermissionDenied
    contact_id, customer_id = _posted_id(request, "contact"), _posted_id(request, "customer")
    if contact_id is None:
        return _dial_answer(request, customer_id, error=_("Choose a phone number to call."))
    try:
        contact = dialer.contact_dial(user=request.user, contact_id=contact_id, customer_id=customer_id)
    except ContactPoint.DoesNotExist as exc:
        raise Http404(_("No such phone number, or you do not have access to this customer.")) from exc
    except (ValidationError, dialer.DialError) as exc:
        return _dial_answer(request, customer_id, error=" ".join(exc.messages))
    return _dial_answer(request, contact.customer_id, message=_("Calling… pick up your phone when it rings."))


def _posted_id(request, name):
    try:
        value = int(request.POST.get(name, ""))
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


def _dial_answer(request, customer_id, *, message="", error=""):
    """A line next to the number for htmx; without JavaScript, back to the customer with a message."""
    if request.htmx:
        return HttpResponse(
            format_html(
                '<span class="small text-{}" role="{}" data-testid="dial-status">{}</span>',
                "danger" if error else "success",
                "alert" if error else "status",
                error or message,
            )
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect("customers:detail", customer_id) if customer_id else redirect("customers:list")
