from django.contrib import admin
from django.urls import include, path

from erpsync import views

handler403 = "erpsync.errors.permission_denied"
handler404 = "erpsync.errors.not_found_page"
handler500 = "erpsync.errors.server_error_page"

urlpatterns = [
    path("", views.home, name="home"),
    path("erp-icons/", views.erp_icons, name="erp_icons"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz_live"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("", include("accounts.urls")),
    path("", include("projects.urls")),
    path("", include("subjobs.urls")),
    path("", include("jobs.urls")),
    path("", include("invoicing.urls")),
    path("", include("approvals.urls")),
    path("", include("companysettings.urls")),
    path("", include("webhooks.urls")),
]
