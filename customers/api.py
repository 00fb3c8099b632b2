"""REST API for customers and their timeline, with the same row and field permissions as the pages.

Every read starts from `permissions.customers_visible_to(user)`; writes go through
`customers.services`. Contacts are masked unless the user may see them, and a response that shows
them unmasked leaves an access-log row.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from crm.requests import client_ip

from . import selectors, services
from .models import ContactPoint, Customer
from .normalise import email_normalise, phone_normalise
from .permissions import can_view_contact_details, customers_visible_to
from .serializers import (
    CustomerListQuerySerializer,
    CustomerSerializer,
    CustomerWriteSerializer,
    TimelineEntrySerializer,
    TimelinePageSerializer,
    TimelineQuerySerializer,
)

NOT_FOUND = _("No customer found, or you do not have access to it.")


class CustomerModelPermission(permissions.BasePermission):
    """Creating and changing need the model permissions the pages ask for; reading is decided per row."""

    required = {
        "POST": ("customers.add_customer", _("You may not create customers.")),
        "PATCH": ("customers.change_customer", _("You may not edit customers.")),
    }

    def has_permission(self, request, view):
        if request.method not in self.required:
            return True
        permission, self.message = self.required[request.method]
        return request.user.has_perm(permission)


CUSTOMER_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The customer's id.")
)
ERRORS = {
    400: OpenApiResponse(description=_("Invalid input; the body maps each field to its messages.")),
    403: OpenApiResponse(description=_("Not signed in, or not allowed to do this.")),
    404: OpenApiResponse(description=_("No such customer, or you do not have access to it.")),
}


@extend_schema_view(
    list=extend_schema(
        operation_id="customers_list",
        summary=_("List and search the customers you can see"),
        parameters=[CustomerListQuerySerializer],
        responses={200: CustomerSerializer(many=True), 400: ERRORS[400], 403: ERRORS[403]},
    ),
    retrieve=extend_schema(
        operation_id="customers_retrieve",
        summary=_("One customer"),
        parameters=[CUSTOMER_ID],
        responses={200: CustomerSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        operation_id="customers_create",
        summary=_("Create a customer"),
        request=CustomerWriteSerializer,
        responses={201: CustomerSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    ),
    partial_update=extend_schema(
        operation_id="customers_partial_update",
        summary=_("Change a customer"),
        description=_(
            "Send only the fields to change. `tags` and `custom_attributes` replace the stored values; "
            "`phones` and `emails` add the values the customer does not have yet and never remove any."
        ),
        parameters=[CUSTOMER_ID],
        request=CustomerWriteSerializer,
        responses={200: CustomerSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["customers"])
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Customers. Phone numbers and e-mail addresses are masked unless you may see contact details."""

    permission_classes = [permissions.IsAuthenticated, CustomerModelPermission]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return customers_visible_to(self.request.user)

    def get_object(self):
        try:
            return selectors.with_list_relations(self.get_queryset()).get(pk=self.kwargs["pk"])
        except Customer.DoesNotExist:
            raise NotFound(NOT_FOUND) from None

    def get_serializer_class(self):
        # By method, not action: OPTIONS and the browsable API describe POST with the write serializer.
        if self.request is not None and self.request.method in ("POST", "PATCH"):
            return CustomerWriteSerializer
        return CustomerSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["reveal_contacts"] = can_view_contact_details(self.request.user)
        return context

    def list(self, request, *args, **kwargs):
        query = CustomerListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data.get("phone") and not query.validated_data.get("q"):
            return self._phone_lookup_response(query.validated_data)
        # The phone lookup comes first: for an agent it is what makes the match visible.
        matches = (
            self._phone_matches(query.validated_data["phone"]) if query.validated_data.get("phone") else None
        )
        queryset = self.get_queryset()
        if matches is not None:
            queryset = queryset.filter(pk__in=matches)
        queryset = selectors.customer_search(queryset, query.validated_data.get("q", ""))
        page = self.paginate_queryset(selectors.ordered_for_list(queryset))
        serializer = self.get_serializer(page, many=True)
        filters = {**query.validated_data, "page": self.paginator.page.number}
        self._log_reveal(page, filters=filters)
        return self.get_paginated_response(serializer.data)

    def _phone_lookup_response(self, params):
        """The caller lookup: at most 20 exact matches, so one page without counting or re-reading them."""
        try:
            customers = services.phone_lookup(user=self.request.user, number=params["phone"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"phone": exc.messages}) from None
        customers = list(
            selectors.with_list_relations(Customer.objects.filter(pk__in=[c.pk for c in customers])).order_by(
                "-created_at", "-id"
            )
        )
        self._log_reveal(customers, filters={**params, "page": 1})
        results = self.get_serializer(customers, many=True).data
        return Response({"count": len(results), "next": None, "previous": None, "results": results})

    def _phone_matches(self, number):
        try:
            # Also records an agent's lookup, which is what makes the match visible to them below.
            matches = services.phone_lookup(user=self.request.user, number=number)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"phone": exc.messages}) from None
        return [customer.pk for customer in matches]

    def retrieve(self, request, *args, **kwargs):
        customer = self.get_object()
        self._log_reveal([customer], object_id=customer.pk)
        return Response(self.get_serializer(customer).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        contacts = services.ContactInput(phones=data.pop("phones", []), emails=data.pop("emails", []))
        with _service_errors():
            customer = services.customer_create(actor=request.user, contacts=contacts, **data)
        return self._written(customer, status=201)

    def partial_update(self, request, *args, **kwargs):
        customer = self.get_object()
        serializer = self.get_serializer(customer, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        new_contacts = [(ContactPoint.Kind.PHONE, value) for value in data.pop("phones", [])] + [
            (ContactPoint.Kind.EMAIL, value) for value in data.pop("emails", [])
        ]
        tags = data.pop("tags", None)
        with _service_errors(), transaction.atomic():
            customer = services.customer_update(customer=customer, actor=request.user, tags=tags, **data)
            have = {
                (point.kind, point.normalised, point.extension) for point in customer.contact_points.all()
            }
            for kind, value in new_contacts:
                key = _contact_key(kind, value)
                if key not in have:
                    have.add(key)
                    services.contact_point_add(customer=customer, actor=request.user, kind=kind, value=value)
        return self._written(customer, status=200)

    def _written(self, customer, *, status):
        """The customer as just saved; it may be outside the user's rows now (another owner), so by pk."""
        customer = selectors.with_list_relations(Customer.objects.filter(pk=customer.pk)).get()
        self._log_reveal([customer], object_id=customer.pk)
        return Response(
            CustomerSerializer(customer, context=self.get_serializer_context()).data, status=status
        )

    def _log_reveal(self, customers, *, object_id="", filters=None):
        """One access-log row per response that shows contacts unmasked, counting the customers shown."""
        if not can_view_contact_details(self.request.user):
            return
        shown = sum(1 for customer in customers if customer.contact_points.all())
        if not shown:
            return
        services.contact_details_log(
            user=self.request.user,
            count=shown,
            object_id=object_id,
            field="api",
            filters=filters,
            ip_address=client_ip(self.request),
        )

    @extend_schema(
        operation_id="customers_timeline",
        summary=_("The customer's timeline, newest first"),
        description=_(
            "Everything that happened with the customer: calls, messages, tickets, deals, notes, changes. "
            "Follow `next` for older entries; pages stay stable while new entries arrive."
        ),
        parameters=[CUSTOMER_ID, TimelineQuerySerializer],
        responses={200: TimelinePageSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if not customers_visible_to(request.user).filter(pk=pk).exists():
            raise NotFound(NOT_FOUND)
        page = selectors.timeline_page(
            customer=Customer(pk=pk),
            cursor=query.validated_data.get("cursor"),
            kinds=query.validated_data.get("kind", ()),
            channels=query.validated_data.get("channel", ()),
            limit=query.validated_data["limit"],
        )
        next_url = None
        if page.next_cursor:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor)
        return Response({"results": TimelineEntrySerializer(page.entries, many=True).data, "next": next_url})


def _contact_key(kind, value):
    if kind == ContactPoint.Kind.PHONE:
        return (kind, *phone_normalise(value))
    return (kind, email_normalise(value), "")


@contextmanager
def _service_errors():
    """A service's ValidationError becomes a 400 with the same field names."""
    try:
        yield
    except DjangoValidationError as exc:
        raise serializers.ValidationError(get_error_detail(exc)) from None
