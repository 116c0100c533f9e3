"""The company settings forms. The services check everything again; these only read input."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from erpsync.adapters import SettingField, SettingKind, adapter_choices, adapter_class
from erpsync.kinds import erp_item_models
from projects.models import Company, CompanyMembership, PointOfView, ToolLevel

SECRET_KEPT = "Set — leave blank to keep it."


class DictionaryForm(forms.Form):
    pov_dictionary = forms.ChoiceField(
        label="Point-of-view dictionary", choices=PointOfView.choices, widget=forms.RadioSelect
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class JsonField(forms.CharField):
    """A JSON value typed in a text area; blank is None."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"This is not valid JSON: {error}.") from None


class AdapterForm(forms.Form):
    """The adapter to use and its settings, one field per setting the adapter declares
    (Adapter.setting_fields). Secrets are never rendered back: a blank secret keeps the stored
    one, and an optional one has a 'clear' box."""

    adapter = forms.ChoiceField(label="ERP adapter")
    # The adapter whose settings the form showed: a different `adapter` only shows its own.
    fields_for = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, company: Company, adapter_key: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adapter_key = adapter_key
        self.adapter_cls = adapter_class(adapter_key)
        self.stored: dict[str, Any] = (
            dict(company.erp_settings or {}) if company.erp_adapter == adapter_key else {}
        )
        self.fields["adapter"].choices = adapter_choices()
        self.fields["adapter"].initial = adapter_key
        self.fields["fields_for"].initial = adapter_key
        self.specs: list[SettingField] = list(self.adapter_cls.setting_fields)
        for spec in self.specs:
            self.fields[f"setting_{spec.name}"] = self._field(spec)
            if spec.secret and not spec.required and spec.name in self.stored:
                self.fields[f"clear_{spec.name}"] = forms.BooleanField(
                    label=f"Clear the {spec.label.lower()}", required=False
                )

    def _field(self, spec: SettingField) -> forms.Field:
        help_text = spec.help
        if spec.secret:
            if spec.name in self.stored:
                help_text = f"{SECRET_KEPT} {help_text}".strip()
            return forms.CharField(
                label=spec.label,
                required=False,
                strip=False,
                help_text=help_text,
                widget=forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "new-password"}
                ),
            )
        initial = self.stored.get(spec.name)
        if spec.kind == SettingKind.JSON:
            return JsonField(
                label=spec.label,
                required=False,
                help_text=help_text,
                initial=None if initial is None else json.dumps(initial, indent=2),
                widget=forms.Textarea(attrs={"rows": 4, "cols": 40, "spellcheck": "false"}),
            )
        attrs = {"inputmode": "decimal"} if spec.kind == SettingKind.NUMBER else {}
        if spec.kind == SettingKind.URL:
            attrs = {"inputmode": "url", "spellcheck": "false"}
        return forms.CharField(
            label=spec.label,
            required=False,
            help_text=help_text,
            initial=_text(initial) if initial is not None else None,
            widget=forms.TextInput(attrs=attrs),
        )

    @property
    def rows(self) -> list[dict[str, Any]]:
        """What the template shows per setting: the field, its clear box, whether it is set."""
        return [
            {
                "spec": spec,
                "field": self[f"setting_{spec.name}"],
                "clear": self[f"clear_{spec.name}"]
                if f"clear_{spec.name}" in self.fields
                else None,
                "is_set": spec.name in self.stored,
            }
            for spec in self.specs
        ]

    @property
    def shows_other_adapter(self) -> bool:
        """The user picked another adapter in a form that showed this one's settings (no
        JavaScript): show the new adapter's settings instead of saving."""
        return self.cleaned_data.get("fields_for") != self.cleaned_data.get("adapter")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for spec in self.specs:
            if data.get(f"clear_{spec.name}") and data.get(f"setting_{spec.name}"):
                self.add_error(
                    f"setting_{spec.name}",
                    f"Either type a new {spec.label.lower()} or clear it, not both.",
                )
        return data

    def new_settings(self) -> dict[str, Any]:
        """The adapter's complete settings after this form: settings the page does not show
        (set with erp_configure) are kept."""
        declared = {spec.name for spec in self.specs}
        result = {name: value for name, value in self.stored.items() if name not in declared}
        for spec in self.specs:
            value = self.cleaned_data.get(f"setting_{spec.name}")
            if spec.secret:
                if self.cleaned_data.get(f"clear_{spec.name}"):
                    continue
                if not value:
                    if spec.name in self.stored:
                        result[spec.name] = self.stored[spec.name]
                    continue
                result[spec.name] = value
            elif spec.kind == SettingKind.JSON:
                if value is not None:
                    result[spec.name] = value
            elif value:
                result[spec.name] = value
        return result

    def field_name(self, setting: str) -> str | None:
        """The form field of a setting (or of `adapter`) named in a service's error."""
        for name in (setting, f"setting_{setting}"):
            if name in self.fields and name != "fields_for":
                return name
        return None


class MemberFlagsForm(forms.Form):
    """One row of the directory: the member's ERP Integrations flags."""

    erp_tool_level = forms.TypedChoiceField(
        label="ERP Integrations tool", choices=ToolLevel.choices, coerce=int
    )
    can_push_to_accounting = forms.BooleanField(label="Can push to accounting", required=False)
    erp_digest_subscribed = forms.BooleanField(
        label="Subscribe to ERP digest emails", required=False
    )
    # An unticked box posts nothing: the rights change only when the form showed the boxes,
    # so a form without them (an older page) never withdraws every right.
    exports_shown = forms.BooleanField(required=False, initial=True, widget=forms.HiddenInput)

    def __init__(self, *args: Any, membership: CompanyMembership, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"m{membership.pk}")
        self.kinds = [(m.erp_kind, m.erp_tab_label(membership.company)) for m in erp_item_models()]
        exports = membership.export_kinds()
        kwargs.setdefault(
            "initial",
            {
                "erp_tool_level": membership.erp_tool_level,
                "can_push_to_accounting": membership.can_push_to_accounting,
                "erp_digest_subscribed": membership.erp_digest_subscribed,
                **{f"export_{kind}": kind in exports for kind, _ in self.kinds},
            },
        )
        super().__init__(*args, **kwargs)
        # One box per kind of item: the approver's right to accept (and export) that kind.
        for kind, label in self.kinds:
            self.fields[f"export_{kind}"] = forms.BooleanField(label=label, required=False)
        self.membership = membership
        self.form_id = f"member-{membership.pk}"
        # The inputs sit in the row's cells; the form element is in the last one.
        for field in self.fields.values():
            field.widget.attrs["form"] = self.form_id

    @property
    def export_fields(self) -> list[forms.BoundField]:
        return [self[f"export_{kind}"] for kind, _ in self.kinds]

    def service_kwargs(self) -> dict[str, Any]:
        """What membership_set_flags takes: the flags, and exactly the kinds ticked."""
        data = self.cleaned_data
        return {
            "erp_tool_level": data["erp_tool_level"],
            "can_push_to_accounting": data["can_push_to_accounting"],
            "erp_digest_subscribed": data["erp_digest_subscribed"],
            "export_kinds": [kind for kind, _ in self.kinds if data[f"export_{kind}"]]
            if data["exports_shown"]
            else None,
        }
