"""The application's URLs plus a bare "hello" view: the baseline the benchmark compares pages with."""

from django.http import HttpResponse
from django.urls import include, path


def hello(request):
    return HttpResponse("hello")


urlpatterns = [path("bench/hello/", hello, name="bench-hello"), path("", include("crm.urls"))]
