from django.urls import path

from companysettings import policy_views, views

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
    path(
        f"{prefix}settings/approval-policy/",
        policy_views.settings_approval_policy,
        name="settings_approval_policy",
    ),
    path(
        f"{prefix}settings/approval-policy/<str:kind>/rules/",
        policy_views.settings_rule_add,
        name="settings_rule_add",
    ),
    path(
        f"{prefix}settings/approval-policy/rules/<int:rule_id>/remove/",
        policy_views.settings_rule_remove,
        name="settings_rule_remove",
    ),
    path(f"{prefix}out-of-office/", policy_views.out_of_office, name="out_of_office"),
    path(
        f"{prefix}out-of-office/<int:absence_id>/cancel/",
        policy_views.out_of_office_cancel,
        name="out_of_office_cancel",
    ),
    path(f"{prefix}audit/", views.audit_log, name="audit_log"),
    path(f"{prefix}audit/export.csv", views.audit_export, name="audit_export"),
]
