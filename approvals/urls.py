from django.urls import path

from approvals import email_views, refresh_views, unlink_views, update_views, views

prefix = "companies/<slug:slug>/erp/"
urlpatterns = [
    path("email-links/<str:token>/", email_views.email_decision, name="email_decision"),
    path(prefix, views.erp_tool, name="erp_tool"),
    path(f"{prefix}<str:kind>/bulk/", views.erp_bulk, name="erp_bulk"),
    path(f"{prefix}<str:kind>/items/<int:item_id>/", views.erp_item, name="erp_item"),
    path(
        f"{prefix}<str:kind>/items/<int:item_id>/refresh/",
        refresh_views.erp_refresh_item,
        name="erp_refresh",
    ),
    path(
        f"{prefix}<str:kind>/items/<int:item_id>/unlink/",
        unlink_views.erp_unlink_item,
        name="erp_unlink",
    ),
    path(
        f"{prefix}<str:kind>/updates/<int:request_id>/<str:decision>/",
        update_views.erp_update_decide,
        name="erp_update_decide",
    ),
    # Ready to Update lists update requests, not items in a state: its own view, found before
    # the generic state list below (reverse("erp_queue", …, "update") gives this path too).
    path(f"{prefix}<str:kind>/update/", update_views.erp_update_queue, name="erp_update_queue"),
    path(
        f"{prefix}<str:kind>/items/<int:item_id>/<str:decision>/",
        views.erp_decide,
        name="erp_decide",
    ),
    path(f"{prefix}<str:kind>/<str:filter_key>/", views.erp_queue, name="erp_queue"),
]
