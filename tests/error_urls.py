"""The app's URLs plus one that fails, for the error page tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from erpsync.urls import handler403, handler404, handler500, urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug, on purpose")


urlpatterns = [path("broken/", broken), *urlpatterns]
