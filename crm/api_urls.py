"""Version 1 of the REST API; each app adds its routes here."""

from rest_framework.routers import DefaultRouter

from customers.api import CustomerViewSet

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = [*router.urls]
