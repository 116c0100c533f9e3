from django.urls import path

from companysettings import views

prefix = "companies/<slug:slug>/"
urlpatterns = [
    path(f"{prefix}settings/", views.settings_home, name="settings_home"),
    path(f"{prefix}settings/dictionary/", views.settings_dictionary, name="settings_dictionary"),
    path(f"{prefix}settings/adapter/", views.settings_adapter, name="settings_adapter"),
    path(
        f"{prefix}settings/adapter/check/",
        views.settings_adapter_check,
        name="settings_adapter_check",
    ),
    path(f"{prefix}settings/members/", views.settings_members, name="settings_members"),
    path(
        f"{prefix}settings/members/<int:member_id>/",
        views.settings_member,
        name="settings_member",
    ),
    path(
        f"{prefix}settings/members/<int:member_id>/history/",
        views.settings_member_history,
        name="settings_member_history",
    ),
    path(f"{prefix}audit/", views.audit_log, name="audit_log"),
    path(f"{prefix}audit/export.csv", views.audit_export, name="audit_export"),
]
