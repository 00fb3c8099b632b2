"""Version 1 of the REST API; each app adds its routes here."""

urlpatterns = []
