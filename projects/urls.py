from django.urls import path

from projects import views

urlpatterns = [
    path("projects/<int:project_id>/", views.project_home, name="project"),
    path("projects/<int:project_id>/admin/", views.project_admin, name="project_admin"),
    path("projects/<int:project_id>/members/", views.project_members, name="project_members"),
    path("companies/<slug:slug>/members/", views.company_members, name="company_members"),
    path(
        "companies/<slug:slug>/accountants/",
        views.company_accountants,
        name="company_accountants",
    ),
]
