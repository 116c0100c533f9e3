from django.urls import path

from jobs import views

urlpatterns = [
    path("companies/<slug:slug>/projects/new/", views.project_new, name="project_new"),
    path("projects/<int:project_id>/job/", views.job_detail, name="job_detail"),
    path("projects/<int:project_id>/job/rename/", views.job_rename, name="job_rename"),
    path(
        "projects/<int:project_id>/job/erp/<str:action>/",
        views.job_erp_action,
        name="job_erp_action",
    ),
]
