"""CTI event intake for any PBX or CTI middleware, and call lookups."""

import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.permissions import customers_visible_to

from . import services, signing
from .permissions import calls_visible_to

logger = logging.getLogger(__name__)

EVENT_EXAMPLE = {
    "call_id": "1700000000.42",
    "event": "ringing",
    "direction": "inbound",
    "from": "0912-345-678",
    "to": "02-2345-6789",
    "extension": "101",
    "occurred_at": "2026-11-23T09:30:00+08:00",
}

EventSerializer = inline_serializer(
    "CtiEvent",
    {
        "call_id": serializers.CharField(max_length=128),
        "event": serializers.ChoiceField(choices=services.EVENTS),
        "direction": serializers.ChoiceField(choices=services.DIRECTIONS, required=False),
        "from": serializers.CharField(required=False),
        "to": serializers.CharField(required=False),
        "extension": serializers.CharField(
            required=False, help_text="The agent's extension; several, comma-separated, for a ring group."
        ),
        "occurred_at": serializers.DateTimeField(),
        "recording_url": serializers.URLField(required=False),
        "agent": serializers.CharField(
            required=False, help_text="Username of the agent, if the PBX knows it."
        ),
    },
)


class CtiEventView(APIView):
    """Receive one call event. Signed with the shared secret; a repeated event is acknowledged, not applied twice."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    parser_classes = []  # the raw body is read (and signature-checked) before anything parses it

    @extend_schema(
        operation_id="cti_event_create",
        tags=["call centre"],
        summary="Post a call event (signed)",
        request=EventSerializer,
        parameters=[
            OpenApiParameter("X-CRM-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "X-CRM-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description='"sha256=" + hex HMAC-SHA256 of "<timestamp>.<raw body>" with CTI_SHARED_SECRET.',
            ),
        ],
        examples=[OpenApiExample("ringing", value=EVENT_EXAMPLE, request_only=True)],
        responses={
            202: OpenApiResponse(description="Stored and applied."),
            200: OpenApiResponse(description="Already received: acknowledged, nothing changed."),
            400: OpenApiResponse(description="Malformed event; the body says which field."),
            401: OpenApiResponse(description="Bad signature or stale timestamp."),
        },
    )
    def post(self, request):
        body = request._request.body
        problem = signing.verify(
            settings.CTI_SHARED_SECRET,
            request.headers.get("X-CRM-Timestamp", ""),
            request.headers.get("X-CRM-Signature", ""),
            body,
        )
        if problem:
            logger.warning("CTI event rejected: %s", problem)
            return Response({"detail": problem}, status=status.HTTP_401_UNAUTHORIZED)
        try:
            payload = json.loads(body)
            data = services.event_parse(payload)
        except (ValueError, RecursionError):
            return Response(
                {"detail": _("The body must be a JSON object.")}, status=status.HTTP_400_BAD_REQUEST
            )
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        call, created = services.cti_event_ingest(data=data, payload=payload)
        if not created:
            return Response({"status": "duplicate"}, status=status.HTTP_200_OK)
        return Response({"status": "accepted", "state": call.state}, status=status.HTTP_202_ACCEPTED)


class CallDetailView(APIView):
    """A call with its state and the matched customer, or the candidates when several share the number."""

    @extend_schema(
        operation_id="call_retrieve",
        tags=["call centre"],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="Unknown or not yours.")},
    )
    def get(self, request, call_id):
        call = (
            calls_visible_to(request.user)
            .select_related("agent", "disposition")
            .filter(call_id=call_id)
            .first()
        )
        if call is None:
            raise NotFound(_("No call found, or you do not have access to it."))
        ids = [call.customer_id] if call.customer_id else list(call.candidates)
        visible = {c.pk: c for c in customers_visible_to(request.user).filter(pk__in=ids)}

        def brief(pk):
            customer = visible.get(pk)
            return (
                {"id": customer.pk, "name": customer.name}
                if customer
                else {"id": None, "name": None, "hidden": True}
            )

        return Response(
            {
                "call_id": call.call_id,
                "direction": call.direction,
                "state": call.state,
                "from": call.from_number,
                "to": call.to_number,
                "extension": call.extension,
                "agent": call.agent.username if call.agent else None,
                "ringing_at": call.ringing_at,
                "answered_at": call.answered_at,
                "ended_at": call.ended_at,
                "talk_seconds": call.talk_seconds,
                "wait_seconds": call.wait_seconds,
                "recording_url": call.recording_url or None,
                "disposition": call.disposition.name if call.disposition else None,
                "customer": brief(call.customer_id) if call.customer_id else None,
                "candidates": [brief(pk) for pk in call.candidates],
            }
        )
