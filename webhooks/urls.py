from django.urls import path

from webhooks import views

prefix = "companies/<slug:slug>/settings/webhooks/"
urlpatterns = [
    path(prefix, views.webhook_list, name="webhook_list"),
    path(f"{prefix}<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path(f"{prefix}<int:pk>/active/", views.webhook_active, name="webhook_active"),
    path(f"{prefix}<int:pk>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path(
        f"{prefix}<int:pk>/end-rotation/", views.webhook_end_rotation, name="webhook_end_rotation"
    ),
    path(f"{prefix}<int:pk>/test/", views.webhook_test, name="webhook_test"),
    path(f"{prefix}<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
]
