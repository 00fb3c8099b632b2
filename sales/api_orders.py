"""REST API for orders: POS and e-commerce systems post purchases here, idempotent on the order number.

`POST /api/v1/orders/` answers 201 with a new order, or 200 with the order already recorded under
that number (nothing changed). Reads start from `orders.orders_visible_to`, the same rows as the pages.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

from customers.models import Customer
from customers.permissions import customers_visible_to

from . import orders
from .api import ERRORS, ModelPermission
from .models import Order, OrderItem
from .money import CURRENCIES

ORDER_NOT_FOUND = _("No order found, or you do not have access to it.")


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["sku", "description", "quantity", "unit_price"]
        extra_kwargs = {
            "description": {"required": False, "allow_blank": True},
            "sku": {"required": False, "allow_blank": True},
            "quantity": {"required": False, "min_value": 0},
            "unit_price": {"min_value": 0},
        }


class OrderSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "channel",
            "ordered_at",
            "amount",
            "currency",
            "items",
            "note",
            "source",
            "created_at",
        ]
        read_only_fields = fields


class OrderWriteSerializer(serializers.Serializer):
    number = serializers.CharField(
        max_length=64, help_text=_("Your order number; posting it again is harmless.")
    )
    ordered_at = serializers.DateTimeField(required=False, help_text=_("When it was bought; default now."))
    channel = serializers.ChoiceField(choices=Order.Channel.choices, required=False)
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=_("Default: the sum of the items."),
    )
    currency = serializers.ChoiceField(choices=CURRENCIES, required=False)
    items = OrderItemSerializer(many=True, required=False)
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.none(), required=False, allow_null=True, help_text=_("The customer's id.")
    )
    phone = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text=_("Finds the customer by phone number.")
    )
    email = serializers.CharField(
        max_length=254, required=False, allow_blank=True, help_text=_("Finds the customer by e-mail.")
    )
    customer_name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=_("Creates the customer when nobody has this phone or e-mail yet."),
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["customer"].queryset = customers_visible_to(request.user)


ORDER_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The order's id."))


@extend_schema_view(
    list=extend_schema(
        operation_id="orders_list",
        summary=_("List the orders you can see"),
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.INT, description=_("Only this customer's orders.")),
            OpenApiParameter("channel", OpenApiTypes.STR, enum=Order.Channel.values),
            OpenApiParameter("number", OpenApiTypes.STR, description=_("The order with this number.")),
        ],
        responses={200: OrderSerializer(many=True), 403: ERRORS[403]},
    ),
    retrieve=extend_schema(
        operation_id="orders_retrieve",
        summary=_("One order"),
        parameters=[ORDER_ID],
        responses={200: OrderSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        operation_id="orders_create",
        summary=_("Record an order (idempotent on the order number)"),
        description=_(
            "201 with the new order; 200 with the order already recorded under this number, unchanged. "
            "The customer is `customer`, or the customer with this `phone` or `email`, or a new customer "
            "called `customer_name`."
        ),
        request=OrderWriteSerializer,
        responses={
            200: OrderSerializer,
            201: OrderSerializer,
            400: ERRORS[400],
            403: ERRORS[403],
            409: OpenApiResponse(description=_("The order number belongs to an order you cannot see.")),
        },
    ),
)
@extend_schema(tags=["orders"])
class OrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [permissions.IsAuthenticated, ModelPermission]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]
    required_permissions = {
        "GET": ("sales.view_order", _("You may not see orders.")),
        "POST": ("sales.add_order", _("You may not record orders.")),
    }

    def get_queryset(self):
        queryset = (
            orders.orders_visible_to(self.request.user)
            .select_related("customer")
            .prefetch_related("items")
            .order_by("-ordered_at", "-id")
        )
        params = self.request.query_params
        if params.get("customer", "").isdigit():
            queryset = queryset.filter(customer_id=int(params["customer"]))
        if params.get("channel") in Order.Channel.values:
            queryset = queryset.filter(channel=params["channel"])
        number = params.get("number", "")
        if number:
            queryset = queryset.filter(number=number[:64]) if number.isprintable() else queryset.none()
        return queryset

    def get_object(self):
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        except Order.DoesNotExist:
            raise NotFound(ORDER_NOT_FOUND) from None

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return OrderWriteSerializer
        return OrderSerializer

    def create(self, request, *args, **kwargs):
        serializer = OrderWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        items = [orders.ItemInput(**item) for item in data.pop("items", [])]
        try:
            order, created = orders.order_create(
                actor=request.user, items=items, source=Order.Source.API, **data
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from None
        except DjangoPermissionDenied as exc:
            raise ApiPermissionDenied(str(exc) or None) from None
        except orders.OrderNumberTaken:
            return Response(
                {"detail": _("This order number is already used by an order you cannot see.")},
                status=status.HTTP_409_CONFLICT,
            )
        fresh = Order.objects.select_related("customer").prefetch_related("items").get(pk=order.pk)
        return Response(
            OrderSerializer(fresh).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
