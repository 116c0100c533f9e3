"""The Django admin of companies and their directory, held to the settings pages' rules.

projects.admin registers Company and CompanyMembership; this app re-registers them so that
their writes go through companysettings.services (the company's row locked, the last ERP tool
Admin kept, an audit row naming the admin) and the adapter's secrets are never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse

from companysettings.services import (
    FLAGS,
    SettingsRefused,
    company_admin_set_dictionary,
    membership_admin_create,
    membership_admin_delete,
    membership_admin_update,
)
from erpsync import ops
from erpsync.web import refused
from projects.admin import CompanyAdmin as ProjectsCompanyAdmin
from projects.admin import CompanyMembershipAdmin as ProjectsCompanyMembershipAdmin
from projects.models import Company, CompanyMembership, ExportRight, OutOfOffice

SETTINGS_ELSEWHERE = (
    "Change the ERP adapter and its settings on the company's settings page "
    "(Company settings → ERP adapter) or with manage.py erp_configure: the adapter checks them "
    "there, and secrets stay hidden."
)


def _refusing(view: Callable[..., HttpResponse], request: HttpRequest, *args: Any) -> HttpResponse:
    """One transaction per admin request; a refusal undoes all of it and answers its reason."""
    try:
        with transaction.atomic():
            return view(request, *args)
    except SettingsRefused as refusal:
        return refused(request, [refusal.message], refusal.status_code, title="Not saved")
    except ValidationError as error:
        return refused(request, error.messages, 422, title="Not saved")


class RefusingAdminMixin:
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        view = super().changeform_view  # type: ignore[misc]
        return _refusing(view, request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        view = super().delete_view  # type: ignore[misc]
        return _refusing(view, request, object_id, extra_context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Its actions include "Delete selected".
        view = super().changelist_view  # type: ignore[misc]
        return _refusing(view, request, extra_context)


def _flags(data: dict[str, Any], changed: list[str] | None = None) -> dict[str, Any]:
    return {
        name: data[name] for name in FLAGS if name in data and (changed is None or name in changed)
    }


admin.site.unregister(Company)
admin.site.unregister(CompanyMembership)


@admin.register(Company)
class CompanyAdmin(RefusingAdminMixin, ProjectsCompanyAdmin):
    exclude = ("erp_settings",)

    @admin.display(description="ERP adapter settings")
    def erp_settings_masked(self, obj: Company) -> str:
        return f"{ops.describe_settings(obj.erp_settings or {})}. {SETTINGS_ELSEWHERE}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        return (*fields, "erp_adapter", "erp_settings_masked")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        plain = [name for name in form.changed_data if name in ("name", "slug")]
        if plain:
            obj.save(update_fields=plain)
        if "pov_dictionary" in form.changed_data:
            company_admin_set_dictionary(
                company=obj, user=request.user, pov=form.cleaned_data["pov_dictionary"]
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not CompanyMembership:
            super().save_formset(request, form, formset, change)
            return
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.forms:
            member = row.instance
            if member.pk and formset._should_delete_form(row):
                membership_admin_delete(membership=member, user=request.user)
                formset.deleted_objects.append(member)
            elif member.pk and row.has_changed():
                changed = list(row.changed_data)
                if "user" in changed:
                    # The row's history is that person's: remove it and add the other one.
                    raise ValidationError(
                        "A member's user cannot be changed: delete the row and add the other "
                        "user instead."
                    )
                membership_admin_update(
                    membership=member, user=request.user, **_flags(row.cleaned_data, changed)
                )
                formset.changed_objects.append((member, changed))
            elif not member.pk and row.has_changed() and not formset._should_delete_form(row):
                created = membership_admin_create(
                    company=form.instance,
                    user=request.user,
                    member=row.cleaned_data["user"],
                    **_flags(row.cleaned_data),
                )
                formset.new_objects.append(created)


@admin.register(CompanyMembership)
class CompanyMembershipAdmin(RefusingAdminMixin, ProjectsCompanyMembershipAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "company", "user") if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            membership_admin_update(
                membership=obj, user=request.user, **_flags(form.cleaned_data, form.changed_data)
            )
            obj.refresh_from_db()
            return
        created = membership_admin_create(
            company=form.cleaned_data["company"],
            user=request.user,
            member=form.cleaned_data["user"],
            **_flags(form.cleaned_data),
        )
        # The admin goes on with its own instance (the response, its history entry).
        obj.pk, obj._state.adding = created.pk, False

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A member's export rights and absences are theirs and go with them; the admin shows
        # those models read only, which would otherwise forbid removing the member at all.
        perms_needed -= {str(m._meta.verbose_name) for m in (ExportRight, OutOfOffice)}
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        membership_admin_delete(membership=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for member in queryset.select_related("company", "user"):
            membership_admin_delete(membership=member, user=request.user)
