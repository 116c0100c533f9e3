"""Forms of the approval policy and out-of-office pages. They only read input strictly (a
field error for "abc", "sNaN" or a day that does not exist, never a 500); the services in
companysettings.policy check everything again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet

from companysettings.delegation import kinds_text
from companysettings.policy import FEWEST_DAYS, MOST_DAYS
from erpsync.filters import AmountField
from erpsync.kinds import erp_item_models
from erpsync.models import ErpItem, KindPolicy
from erpsync.models.policy import MOST_APPROVALS
from erpsync.names import display_name
from projects.models import Company, CompanyMembership

DAY_FORMATS = ["%Y-%m-%d"]


class ApprovalPolicyForm(forms.Form):
    """The company-wide switches, and Direct Export per kind (`direct_export_<kind>`)."""

    block_self_approval = forms.BooleanField(
        label="Block self-approval",
        required=False,
        help_text="Nobody may accept an item they sent or last edited; another approver must.",
    )
    remind_after_days = forms.IntegerField(
        label="Remind approvers after (business days)",
        min_value=FEWEST_DAYS,
        max_value=MOST_DAYS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "size": 4}),
    )
    escalate_after_days = forms.IntegerField(
        label="Escalate to the tool's Admins after (business days)",
        min_value=FEWEST_DAYS,
        max_value=MOST_DAYS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "size": 4}),
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        direct = dict(
            KindPolicy.objects.filter(company=company).values_list("kind", "direct_export")
        )
        self.kinds = [(m, m.erp_tab_label(company)) for m in erp_item_models()]
        initial = {
            "block_self_approval": company.block_self_approval,
            "remind_after_days": company.remind_after_days,
            "escalate_after_days": company.escalate_after_days,
            **{f"direct_export_{m.erp_kind}": direct.get(m.erp_kind, False) for m, _ in self.kinds},
        }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        for model, label in self.kinds:
            self.fields[f"direct_export_{model.erp_kind}"] = forms.BooleanField(
                label=f"Direct Export of {label}",
                required=False,
                help_text=f"Send to ERP exports {label} at once, with no accounting approval.",
            )

    @property
    def direct_export_fields(self) -> list[forms.BoundField]:
        return [self[f"direct_export_{m.erp_kind}"] for m, _ in self.kinds]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        remind, escalate = data.get("remind_after_days"), data.get("escalate_after_days")
        if remind is not None and escalate is not None and escalate < remind:
            self.add_error(
                "escalate_after_days",
                f"Escalate after at least as many business days as the reminder ({remind}).",
            )
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "block_self_approval": data["block_self_approval"],
            "remind_after_days": data["remind_after_days"],
            "escalate_after_days": data["escalate_after_days"],
            "direct_export": {
                m.erp_kind: data[f"direct_export_{m.erp_kind}"] for m, _ in self.kinds
            },
        }


class ApprovalRuleForm(forms.Form):
    """Add a rule for one kind: from an amount, how many approvals, one of them an Admin's."""

    min_amount = AmountField(
        label="From amount ($)",
        min_value=0,
        help_text="Items of this amount or more follow the rule.",
    )
    approvals_required = forms.TypedChoiceField(
        label="Approvals needed",
        choices=[(n, str(n)) for n in range(1, MOST_APPROVALS + 1)],
        coerce=int,
        initial=2,
        help_text="From different approvers.",
    )
    needs_tool_admin = forms.BooleanField(
        label="One of them an ERP Integrations tool Admin's", required=False
    )

    def __init__(self, *args: Any, model: type[ErpItem], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"rule-{model.erp_kind}")
        super().__init__(*args, **kwargs)
        self.model = model
        if model.erp_amount_field is None:
            # No amount to compare: the rule applies to every item of the kind.
            self.fields["min_amount"].initial = "0.00"
            self.fields["min_amount"].help_text = (
                f"{model.erp_kind_label.capitalize()}s have no amount: a rule for them applies "
                "to all of them, from $0.00."
            )


def approver_label(membership: CompanyMembership) -> str:
    kinds = kinds_text(membership.company, membership.export_kinds())
    name = display_name(membership.user)
    return f"{name} ({kinds})" if kinds else name


class MembershipChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: CompanyMembership) -> str:
        return approver_label(obj)


class OutOfOfficeForm(forms.Form):
    """A period away and the delegate; `membership` (whose period) only for the tool's
    Admins, who may set anyone's."""

    membership = MembershipChoiceField(
        label="Approver away", queryset=CompanyMembership.objects.none(), empty_label=None
    )
    starts_on = forms.DateField(
        label="From",
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    ends_on = forms.DateField(
        label="To (included)",
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    delegate = MembershipChoiceField(
        label="Delegate",
        queryset=CompanyMembership.objects.none(),
        empty_label="Choose an approver",
        help_text="Decides in your stead and gets your emails; must hold every export right "
        "of yours.",
    )

    def __init__(
        self,
        *args: Any,
        approvers: QuerySet[CompanyMembership],
        chooses_approver: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = approvers
        if chooses_approver:
            self.fields["membership"].queryset = approvers
            self.fields["delegate"].help_text = (
                "Decides in the approver's stead and gets their emails; must hold every "
                "export right of theirs."
            )
        else:
            del self.fields["membership"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if isinstance(starts_on, dt.date) and isinstance(ends_on, dt.date) and ends_on < starts_on:
            self.add_error("ends_on", "An out-of-office period cannot end before it starts.")
        return data
