from django.urls import path

from subjobs import views

prefix = "projects/<int:project_id>/"
urlpatterns = [
    path(f"{prefix}admin/sub-jobs/", views.sub_job_list, name="sub_job_list"),
    path(f"{prefix}sub-jobs/<int:sub_job_id>/", views.sub_job_detail, name="sub_job_detail"),
    path(f"{prefix}sub-jobs/<int:sub_job_id>/row/", views.sub_job_row, name="sub_job_row"),
    path(f"{prefix}sub-jobs/<int:sub_job_id>/rename/", views.sub_job_rename, name="sub_job_rename"),
    path(
        f"{prefix}sub-jobs/<int:sub_job_id>/approve/",
        views.sub_job_approve_view,
        name="sub_job_approve",
    ),
    path(
        f"{prefix}sub-jobs/<int:sub_job_id>/erp/<str:action>/",
        views.sub_job_erp_action,
        name="sub_job_erp_action",
    ),
]
