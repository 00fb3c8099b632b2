"""Version 1 of the REST API; each app adds its routes here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from callcenter.api import CallDetailView, CtiEventView
from customers.api import CustomerViewSet
from sales.api import DealViewSet, TaskViewSet
from sales.api_orders import OrderViewSet
from tickets.api import TicketViewSet

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("deals", DealViewSet, basename="deal")
router.register("tasks", TaskViewSet, basename="task")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("cti/events/", CtiEventView.as_view(), name="cti-events"),
    path("calls/<str:call_id>/", CallDetailView.as_view(), name="call-detail"),
    *router.urls,
]
