from django.urls import path

from projects import views

urlpatterns = [
    path("projects/<int:project_id>/", views.project_home, name="project"),
    path("projects/<int:project_id>/admin/", views.project_admin, name="project_admin"),
]
