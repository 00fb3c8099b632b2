"""REST API for deals and follow-up tasks, with the same row permissions as the pages.

Reads start from `selectors.deals_visible_to` / `selectors.tasks_visible_to`; writes go through
`sales.services`. Moving a deal takes the version the client saw: a stale version answers 409.
"""

from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

from crm.models import Team
from customers.models import Customer
from customers.permissions import customers_visible_to

from . import selectors, services
from .models import Deal, LostReason, Stage, Task
from .money import CURRENCIES

DEAL_NOT_FOUND = _("No deal found, or you do not have access to it.")
TASK_NOT_FOUND = _("No task found, or you do not have access to it.")


class ModelPermission(permissions.BasePermission):
    """Each method needs the model permission the pages ask for; which rows is decided by the selectors."""

    def has_permission(self, request, view):
        needed = view.required_permissions.get(request.method)
        if needed is None:
            return True
        permission, self.message = needed
        return request.user.has_perm(permission)


@contextmanager
def _service_errors():
    try:
        yield
    except DjangoValidationError as exc:
        raise serializers.ValidationError(get_error_detail(exc)) from None
    except DjangoPermissionDenied as exc:
        raise ApiPermissionDenied(str(exc) or None) from None


def _users():
    return get_user_model().objects.filter(is_active=True)


# Deals -----------------------------------------------------------------------------------------


class DealSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    probability = serializers.IntegerField(source="stage.probability", read_only=True)
    owner_name = serializers.SerializerMethodField()
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Deal
        fields = [
            "id",
            "title",
            "customer",
            "customer_name",
            "organisation",
            "amount",
            "currency",
            "expected_close_date",
            "pipeline",
            "stage",
            "stage_name",
            "probability",
            "status",
            "owner",
            "owner_name",
            "team",
            "source",
            "tags",
            "lost_reason",
            "contract_status",
            "after_sale_follow_up_on",
            "version",
            "stage_changed_at",
            "last_activity_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, deal) -> str:
        return str(deal.owner) if deal.owner else ""


class DealWriteSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none(), required=True)
    title = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = serializers.ChoiceField(choices=CURRENCIES, required=False)
    expected_close_date = serializers.DateField(required=False, allow_null=True)
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all(), required=False)
    owner = serializers.PrimaryKeyRelatedField(queryset=_users(), required=False, allow_null=True)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    source = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50, required=False)
    contract_status = serializers.ChoiceField(choices=Deal.Contract.choices, required=False)
    after_sale_follow_up_on = serializers.DateField(required=False, allow_null=True)
    lost_reason = serializers.PrimaryKeyRelatedField(
        queryset=LostReason.objects.all(), required=False, allow_null=True
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("For changes: the version you read; a stale one answers 409."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["customer"].queryset = customers_visible_to(request.user)


class DealMoveSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    version = serializers.IntegerField(min_value=1, help_text=_("The deal's version you read."))
    lost_reason = serializers.PrimaryKeyRelatedField(
        queryset=LostReason.objects.all(), required=False, allow_null=True
    )


DEAL_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The deal's id."))
ERRORS = {
    400: OpenApiResponse(description=_("Invalid input; the body maps each field to its messages.")),
    403: OpenApiResponse(description=_("Not signed in, or not allowed to do this.")),
    404: OpenApiResponse(description=_("No such object, or you do not have access to it.")),
    409: OpenApiResponse(description=_("The deal changed since you read it; nothing was saved.")),
}


@extend_schema_view(
    list=extend_schema(
        operation_id="deals_list",
        summary=_("List the deals you can see"),
        parameters=[
            OpenApiParameter("pipeline", OpenApiTypes.INT, description=_("Only this pipeline.")),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Deal.Status.values),
            OpenApiParameter("customer", OpenApiTypes.INT, description=_("Only this customer's deals.")),
        ],
        responses={200: DealSerializer(many=True), 403: ERRORS[403]},
    ),
    retrieve=extend_schema(
        operation_id="deals_retrieve",
        summary=_("One deal"),
        parameters=[DEAL_ID],
        responses={200: DealSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        operation_id="deals_create",
        summary=_("Create a deal"),
        request=DealWriteSerializer,
        responses={201: DealSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    ),
    partial_update=extend_schema(
        operation_id="deals_partial_update",
        summary=_("Change a deal"),
        description=_(
            "Send only the fields to change, and `version` to be sure nobody changed it meanwhile."
        ),
        parameters=[DEAL_ID],
        request=DealWriteSerializer,
        responses={
            200: DealSerializer,
            400: ERRORS[400],
            403: ERRORS[403],
            404: ERRORS[404],
            409: ERRORS[409],
        },
    ),
)
@extend_schema(tags=["deals"])
class DealViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [permissions.IsAuthenticated, ModelPermission]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_permissions = {
        "GET": ("sales.view_deal", _("You may not see deals.")),
        "POST": ("sales.add_deal", _("You may not create deals.")),
        "PATCH": ("sales.change_deal", _("You may not change deals.")),
    }

    def get_queryset(self):
        queryset = (
            selectors.deals_visible_to(self.request.user)
            .select_related("customer", "stage", "owner")
            .prefetch_related("tags")
            .order_by("-created_at", "-id")
        )
        params = self.request.query_params
        for name in ("pipeline", "customer"):
            if params.get(name, "").isdigit():
                queryset = queryset.filter(**{f"{name}_id": int(params[name])})
        if params.get("status") in Deal.Status.values:
            queryset = queryset.filter(status=params["status"])
        return queryset

    def get_object(self):
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        except Deal.DoesNotExist:
            raise NotFound(DEAL_NOT_FOUND) from None

    def get_serializer_class(self):
        if self.request is not None and self.request.method in ("POST", "PATCH") and self.action != "move":
            return DealWriteSerializer
        return DealSerializer

    def create(self, request, *args, **kwargs):
        serializer = DealWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("version", None)
        with _service_errors():
            deal = services.deal_create(actor=request.user, **data)
        return Response(DealSerializer(self._fresh(deal)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        deal = self.get_object()
        serializer = DealWriteSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "customer" in data:
            raise serializers.ValidationError({"customer": [_("A deal's customer cannot be changed.")]})
        version = data.pop("version", None)
        try:
            with _service_errors():
                deal = services.deal_update(deal=deal, actor=request.user, expected_version=version, **data)
        except services.DealConflict as conflict:
            return _conflict(conflict)
        return Response(DealSerializer(self._fresh(deal)).data)

    @extend_schema(
        operation_id="deals_move",
        summary=_("Move a deal to another stage"),
        parameters=[DEAL_ID],
        request=DealMoveSerializer,
        responses={
            200: DealSerializer,
            400: ERRORS[400],
            403: ERRORS[403],
            404: ERRORS[404],
            409: ERRORS[409],
        },
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        if not request.user.has_perm("sales.change_deal"):
            raise ApiPermissionDenied(_("You may not change deals."))
        deal = self.get_object()
        serializer = DealMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            with _service_errors():
                deal = services.deal_move(
                    deal=deal,
                    stage=serializer.validated_data["stage"],
                    expected_version=serializer.validated_data["version"],
                    lost_reason=serializer.validated_data.get("lost_reason"),
                    actor=request.user,
                )
        except services.DealConflict as conflict:
            return _conflict(conflict)
        return Response(DealSerializer(self._fresh(deal)).data)

    def _fresh(self, deal):
        return (
            Deal.objects.select_related("customer", "stage", "owner").prefetch_related("tags").get(pk=deal.pk)
        )


def _conflict(conflict: services.DealConflict) -> Response:
    current = Deal.objects.select_related("customer", "stage", "owner").get(pk=conflict.deal.pk)
    return Response(
        {"detail": conflict.message, "current": DealSerializer(current).data}, status=status.HTTP_409_CONFLICT
    )


# Tasks -----------------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    assignee_name = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "note",
            "due_at",
            "remind_at",
            "assignee",
            "assignee_name",
            "team",
            "customer",
            "deal",
            "priority",
            "cadence",
            "attempt",
            "done_at",
            "outcome",
            "created_at",
        ]
        read_only_fields = fields

    def get_assignee_name(self, task) -> str:
        return str(task.assignee) if task.assignee else ""


class TaskWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    due_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    assignee = serializers.PrimaryKeyRelatedField(queryset=_users(), required=False, allow_null=True)
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.none(), required=False, allow_null=True
    )
    deal = serializers.PrimaryKeyRelatedField(queryset=Deal.objects.none(), required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Task.Priority.choices, required=False)
    remind = serializers.BooleanField(default=True, help_text=_("Remind the assignee when the task is due."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["customer"].queryset = customers_visible_to(request.user)
            self.fields["deal"].queryset = selectors.deals_visible_to(request.user)


class TaskCompleteSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Task.Outcome.choices, default=Task.Outcome.DONE)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)


TASK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("The task's id."))


@extend_schema_view(
    list=extend_schema(
        operation_id="tasks_list",
        summary=_("List the follow-up tasks you can see"),
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=["open", "overdue", "done", "all"]),
            OpenApiParameter("assignee", OpenApiTypes.INT),
        ],
        responses={200: TaskSerializer(many=True), 403: ERRORS[403]},
    ),
    retrieve=extend_schema(
        operation_id="tasks_retrieve",
        summary=_("One task"),
        parameters=[TASK_ID],
        responses={200: TaskSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        operation_id="tasks_create",
        summary=_("Create a follow-up task"),
        request=TaskWriteSerializer,
        responses={201: TaskSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    ),
)
@extend_schema(tags=["tasks"])
class TaskViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [permissions.IsAuthenticated, ModelPermission]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]
    required_permissions = {
        "GET": ("sales.view_task", _("You may not see tasks.")),
        "POST": ("sales.add_task", _("You may not create tasks.")),
    }

    def get_queryset(self):
        params = self.request.query_params
        assignee = int(params["assignee"]) if params.get("assignee", "").isdigit() else None
        state = params.get("state", "open")
        return selectors.task_list(user=self.request.user, assignee=assignee, state=state)

    def get_object(self):
        try:
            return (
                self.get_queryset()
                .model.objects.filter(pk__in=selectors.tasks_visible_to(self.request.user).values("pk"))
                .get(pk=self.kwargs["pk"])
            )
        except Task.DoesNotExist:
            raise NotFound(TASK_NOT_FOUND) from None

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST" and self.action == "create":
            return TaskWriteSerializer
        return TaskSerializer

    def create(self, request, *args, **kwargs):
        serializer = TaskWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        remind = data.pop("remind")
        with _service_errors():
            task = services.task_create(
                actor=request.user, remind_at=data["due_at"] if remind else None, **data
            )
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="tasks_complete",
        summary=_("Mark a task done, or not answered"),
        description=_("A task with a cadence creates its next task; completing twice changes nothing."),
        parameters=[TASK_ID],
        request=TaskCompleteSerializer,
        responses={200: TaskSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        if not request.user.has_perm("sales.change_task"):
            raise ApiPermissionDenied(_("You may not change tasks."))
        task = self.get_object()
        serializer = TaskCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_errors():
            completion = services.task_complete(task=task, actor=request.user, **serializer.validated_data)
        return Response(TaskSerializer(completion.task).data)
