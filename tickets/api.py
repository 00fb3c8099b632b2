"""REST API for tickets with the same permissions as the pages: reading needs tickets.view_ticket and
sees only selectors.tickets_visible_to(user); creating needs tickets.add_ticket and goes through
tickets.services.ticket_create."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

from . import selectors, services
from .models import Ticket
from .serializers import (
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketListQuerySerializer,
    TicketSerializer,
)

NOT_FOUND = _("No ticket found, or you do not have access to it.")


class TicketModelPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        if request.method == "POST":
            self.message = _("You may not create tickets.")
            return request.user.has_perm("tickets.add_ticket")
        self.message = _("You may not see tickets.")
        return request.user.has_perm("tickets.view_ticket")


ERRORS = {
    400: OpenApiResponse(description=_("Invalid input; the body maps each field to its messages.")),
    403: OpenApiResponse(description=_("Not signed in, or not allowed to do this.")),
    404: OpenApiResponse(description=_("No such ticket, or you do not have access to it.")),
}
TICKET_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The ticket's id."))


@extend_schema_view(
    list=extend_schema(
        operation_id="tickets_list",
        summary=_("List the tickets you can see, newest first"),
        parameters=[TicketListQuerySerializer],
        responses={200: TicketSerializer(many=True), 400: ERRORS[400], 403: ERRORS[403]},
    ),
    retrieve=extend_schema(
        operation_id="tickets_retrieve",
        summary=_("One ticket with its replies and internal notes"),
        parameters=[TICKET_ID],
        responses={200: TicketDetailSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        operation_id="tickets_create",
        summary=_("Open a ticket"),
        description=_(
            "Give the customer by `customer` (id) or `phone` (any format). Without an assignee the team's "
            "assignment rule may pick one. The SLA deadlines come from the matching policy."
        ),
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    ),
)
@extend_schema(tags=["tickets"])
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Service tickets."""

    permission_classes = [permissions.IsAuthenticated, TicketModelPermission]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return (
            selectors.tickets_visible_to(self.request.user)
            .select_related("customer", "assignee", "sla_policy", "merged_into")
            .prefetch_related("tags")
            .order_by("-created_at", "-id")
        )

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return TicketCreateSerializer
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer

    def get_object(self):
        try:
            return selectors.with_thread(self.get_queryset()).get(pk=self.kwargs["pk"])
        except Ticket.DoesNotExist:
            raise NotFound(NOT_FOUND) from None

    def list(self, request, *args, **kwargs):
        query = TicketListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        queryset = self.get_queryset()
        if data.get("status"):
            queryset = queryset.filter(status__in=data["status"])
        if data.get("priority"):
            queryset = queryset.filter(priority=data["priority"])
        if data.get("sla_state"):
            queryset = queryset.filter(sla_state=data["sla_state"])
        if data.get("customer"):
            queryset = queryset.filter(customer_id=data["customer"])
        assignee = data.get("assignee")
        if assignee == "none":
            queryset = queryset.filter(assignee__isnull=True)
        elif assignee:
            queryset = queryset.filter(assignee_id=request.user.pk if assignee == "me" else int(assignee))
        if q := (data.get("q") or "").strip():
            number = q.lstrip("#")
            queryset = (
                queryset.filter(number=int(number))
                if number.isdigit() and len(number) <= 18
                else queryset.filter(subject__icontains=q)
            )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(TicketSerializer(page, many=True).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        with _service_errors():
            customer = services.customer_resolve(
                user=request.user, customer_id=data.pop("customer", None), phone=data.pop("phone", "")
            )
            ticket = services.ticket_create(actor=request.user, customer=customer, **data)
        # By pk: the ticket may fall outside the rows the user sees (another team's queue).
        ticket = (
            selectors.with_thread(Ticket.objects.filter(pk=ticket.pk))
            .select_related("customer", "assignee", "sla_policy", "merged_into")
            .prefetch_related("tags")
            .get()
        )
        return Response(TicketDetailSerializer(ticket).data, status=201)


@contextmanager
def _service_errors():
    """A service's ValidationError becomes a 400 with the same field names."""
    try:
        yield
    except DjangoValidationError as exc:
        raise serializers.ValidationError(get_error_detail(exc)) from None
