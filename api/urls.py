"""/api/v1/: the schema and its docs (served locally), and one route set per kind of item."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from api.access import kind_path
from api.views.audit import EventListView
from api.views.bulk import BULK_VIEWS
from api.views.connector import ClaimsView, QueueView, ReportsView
from api.views.invoices import OwnerInvoiceViewSet
from api.views.items import ItemViewSet
from api.views.projects import ProjectListView
from api.views.subjobs import ProjectSubJobsView, SubJobViewSet
from erpsync.kinds import erp_item_models

app_name = "api"

# A kind with reads or writes of its own beyond every item's (the others use ItemViewSet).
KIND_VIEWSETS: dict[str, type[ItemViewSet]] = {
    "sub_job": SubJobViewSet,
    "owner_invoice": OwnerInvoiceViewSet,
}


def _kind_routes() -> list[URLPattern]:
    routes = []
    for model in erp_item_models():
        key = model.erp_kind
        kind_view = KIND_VIEWSETS.get(key, ItemViewSet)
        view = type(f"{model.__name__}ViewSet", (kind_view,), {"kind_key": key})
        base = f"companies/<slug:company>/{kind_path(key)}/"
        detail = {"get": "retrieve"}
        if hasattr(kind_view, "partial_update"):
            detail["patch"] = "partial_update"
        routes += [
            path(base, view.as_view({"get": "list"}), name=f"{key}-list"),
            path(f"{base}<int:pk>/", view.as_view(detail), name=f"{key}-detail"),
        ]
        for decision, bulk_view in BULK_VIEWS.items():
            bulk = type(f"{model.__name__}Bulk{decision.title()}", (bulk_view,), {"kind_key": key})
            routes.append(
                path(f"{base}bulk/{decision}/", bulk.as_view(), name=f"{key}-bulk-{decision}")
            )
        for name, segment in (
            ("send", "send"),
            ("resend", "resend"),
            ("retrieve_from_erp", "retrieve"),
            ("accept", "accept"),
            ("reject", "reject"),
            ("retry", "retry"),
            ("unlink", "unlink"),
            *kind_view.item_actions,
        ):
            routes.append(
                path(
                    f"{base}<int:pk>/{segment}/",
                    view.as_view({"post": name}),
                    name=f"{key}-{segment}",
                )
            )
    return routes


def _connector_routes() -> list[URLPattern]:
    """The pull connector's three endpoints; each also answers without its trailing slash
    (README's form), since a POST cannot follow APPEND_SLASH's redirect."""
    routes = []
    for segment, view, name in (
        ("claims", ClaimsView, "connector-claims"),
        ("reports", ReportsView, "connector-reports"),
        ("queue", QueueView, "connector-queue"),
    ):
        base = f"companies/<slug:company>/connector/{segment}"
        routes += [
            path(f"{base}/", view.as_view(), name=name),
            path(base, view.as_view(schema=None), name=f"{name}-bare"),
        ]
    return routes


urlpatterns: list[URLPattern | URLResolver] = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("companies/<slug:company>/projects/", ProjectListView.as_view(), name="project-list"),
    path(
        "companies/<slug:company>/projects/<int:project_id>/sub-jobs/",
        ProjectSubJobsView.as_view(),
        name="project-sub-jobs",
    ),
    path("companies/<slug:company>/events/", EventListView.as_view(), name="event-list"),
    *_kind_routes(),
    *_connector_routes(),
]
