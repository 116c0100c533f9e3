"""Prime contracts, billing periods, owner invoices and their lines. Money is Decimal."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse

from erpsync.adapters import ErpRecord
from erpsync.fields import DecimalField
from erpsync.models import ErpItem
from erpsync.snapshots import SnapshotFormat, format_money
from projects.models import Company, Project
from projects.permissions import INVOICE_ADMIN_REQUIRED, can_manage_owner_invoices
from projects.terms import term

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money_field(verbose_name: str, **kwargs: Any) -> models.DecimalField:
    return DecimalField(verbose_name, max_digits=14, decimal_places=2, default=ZERO, **kwargs)


def _day(day: datetime.date) -> str:
    """A date as the pages write it: "1 Dec 2026" (Django's "j M Y")."""
    return f"{day.day} {day:%b %Y}"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OUT_FOR_SIGNATURE = "out_for_signature", "Out for Signature"
    APPROVED = "approved", "Approved"
    TERMINATED = "terminated", "Terminated"
    VOID = "void", "Void"


class PrimeContract(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prime_contracts")
    number = models.CharField(max_length=30)
    title = models.CharField(max_length=200)
    owner_client = models.CharField("owner/client", max_length=200)
    status = models.CharField(
        max_length=30, choices=ContractStatus.choices, default=ContractStatus.DRAFT
    )
    private = models.BooleanField(
        default=False, help_text="Only tool admins and the listed members see a private contract."
    )
    private_members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="private_prime_contracts"
    )
    invoice_contacts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="invoice_contact_for"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "number"], name="contract_number_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class BillingPeriod(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="billing_periods")
    number = models.PositiveIntegerField()
    start_date = models.DateField()
    end_date = models.DateField()
    due_date = models.DateField()

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="period_number_per_project"),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="period_ends_after_start",
                violation_error_message="A billing period cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"Period {self.number} ({_day(self.start_date)} – {_day(self.end_date)})"

    def clean(self) -> None:
        # The end-before-start rule is the check constraint, validated with the fields.
        if self.start_date and self.due_date and self.due_date < self.start_date:
            raise ValidationError({"due_date": "The due date cannot be before the period starts."})
        overlap = self.overlapping().first()
        if overlap is not None:
            raise ValidationError(
                {
                    "start_date": f"These dates overlap billing period {overlap.number} "
                    f"({_day(overlap.start_date)} – {_day(overlap.end_date)}): "
                    "a day is billed in one period only."
                }
            )

    def overlapping(self) -> models.QuerySet[BillingPeriod]:
        """The project's other periods sharing at least one day with this one."""
        if not (self.project_id and self.start_date and self.end_date):
            return BillingPeriod.objects.none()
        return (
            BillingPeriod.objects.filter(
                project_id=self.project_id,
                start_date__lte=self.end_date,
                end_date__gte=self.start_date,
            )
            .exclude(pk=self.pk)
            .order_by("start_date")
        )


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    UNDER_REVIEW = "under_review", "Under Review"
    REVISE_AND_RESUBMIT = "revise_and_resubmit", "Revise and Resubmit"
    APPROVED = "approved", "Approved"


class OwnerInvoice(ErpItem):
    erp_kind = "owner_invoice"
    erp_kind_label = "owner invoice"
    erp_company_path = "prime_contract__project__company"
    erp_project_path = "prime_contract__project"
    erp_related = ("prime_contract__project__company", "billing_period")
    erp_search_fields = ("number",)
    erp_sender_permission_message = INVOICE_ADMIN_REQUIRED

    prime_contract = models.ForeignKey(
        PrimeContract, on_delete=models.CASCADE, related_name="invoices"
    )
    billing_period = models.ForeignKey(
        BillingPeriod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    number = models.CharField(max_length=30)
    status = models.CharField(
        max_length=30, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the ERP last said the owner has paid (erpsync.refresh); empty until first read back.
    erp_amount_paid = DecimalField(
        "amount paid (ERP)", max_digits=14, decimal_places=2, null=True, blank=True
    )
    erp_amount_due = DecimalField(
        "amount still due (ERP)", max_digits=14, decimal_places=2, null=True, blank=True
    )
    erp_paid_on = models.DateField("paid in full on (ERP)", null=True, blank=True)

    class Meta(ErpItem.Meta):
        ordering = ["prime_contract", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["prime_contract", "number"], name="invoice_number_per_contract"
            )
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number}"

    @property
    def project(self) -> Project:
        return self.prime_contract.project

    def clean(self) -> None:
        self.number = (self.number or "").strip()
        errors: dict[str, str] = {}
        if not self.number:
            errors["number"] = "Enter an invoice number."
        elif (
            self.prime_contract_id
            and OwnerInvoice.objects.filter(
                prime_contract_id=self.prime_contract_id, number=self.number
            )
            .exclude(pk=self.pk)
            .exists()
        ):
            errors["number"] = f"Invoice number {self.number!r} is already used on this contract."
        if (
            self.billing_period_id
            and self.prime_contract_id
            and self.billing_period.project_id != self.prime_contract.project_id
        ):
            errors["billing_period"] = "The billing period belongs to another project."
        if errors:
            raise ValidationError(errors)

    # ----- totals ----------------------------------------------------------------------------

    def totals(self) -> dict[str, Decimal]:
        lines = list(self.lines.all())
        return {
            "scheduled_value": sum((ln.scheduled_value for ln in lines), ZERO),
            "work_completed_this_period": sum(
                (ln.work_completed_this_period for ln in lines), ZERO
            ),
            "materials_stored": sum((ln.materials_stored for ln in lines), ZERO),
            "retainage": sum((ln.retainage_amount for ln in lines), ZERO),
            "amount_due": sum((ln.amount_due for ln in lines), ZERO),
        }

    @property
    def amount_due(self) -> Decimal:
        return self.totals()["amount_due"]

    @property
    def erp_paid(self) -> bool:
        """Paid in full, as the ERP last said."""
        return self.erp_paid_on is not None and self.erp_amount_due == ZERO

    def erp_apply_fetched(self, record: ErpRecord) -> list[str]:
        changes = []
        fetched = {
            "erp_amount_paid": record.amount_paid,
            "erp_amount_due": record.amount_due,
            "erp_paid_on": record.paid_on,
        }
        for name, value in fetched.items():
            if getattr(self, name) != value:
                label = str(self._meta.get_field(name).verbose_name)
                shown = format_money(value) if isinstance(value, Decimal) else value
                changes.append(f"{label.capitalize()}: {shown if value is not None else 'none'}")
                setattr(self, name, value)
        return changes

    # ----- ErpItem -------------------------------------------------------------------------

    erp_tab_order = 20
    # Ready to Update never applies: the ERP books an owner invoice as a posted invoice.
    erp_not_updatable_reason = (
        "This {name} cannot be updated once synced: the ERP holds it as a posted invoice, "
        "which cannot change (in Tryton, a posted invoice is only ever cancelled or credited)."
    )
    erp_search_fields = (
        "number",
        "prime_contract__number",
        "prime_contract__title",
        "prime_contract__project__number",
        "prime_contract__project__name",
    )
    erp_sort_field = "number"
    erp_amount_field = "amount_due_total"

    @classmethod
    def erp_csv_columns(cls, company: Company) -> list[tuple[str, str]]:
        return [
            ("Invoice", "number"),
            (term(company, "prime_contract"), "prime_contract.number"),
            ("Billing period", "billing_period.number"),
            ("Status", "get_status_display"),
            ("Amount due", "amount_due_total"),
        ]

    @classmethod
    def erp_tab_label(cls, company: Company) -> str:
        return term(company, "owner_invoices")

    @classmethod
    def erp_queue(cls, company: Company) -> models.QuerySet[OwnerInvoice]:
        """The company's invoices with what a row of the approvers' tool shows."""
        return (
            super()
            .erp_queue(company)
            .select_related("billing_period")
            # 0.00 without lines, as the invoice's page says: filters and sorts compare it.
            .annotate(
                amount_due_total=Coalesce(
                    models.Sum("lines__amount_due"),
                    models.Value(ZERO),
                    output_field=models.DecimalField(max_digits=14, decimal_places=2),
                )
            )
        )

    @property
    def erp_company(self) -> Company:
        return self.prime_contract.project.company

    @property
    def erp_title(self) -> str:
        return f"owner invoice {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("invoice_detail", args=[self.prime_contract.project_id, self.pk])

    def erp_send_preconditions(self) -> list[str]:
        reasons = []
        if not self.prime_contract.project.erp_synced:
            reasons.append("The project is not synced with the ERP.")
        if self.billing_period_id is None:
            reasons.append("The billing period has not been created.")
        if self.prime_contract.status != ContractStatus.APPROVED:
            reasons.append("The prime contract is not in the Approved status.")
        if self.status != InvoiceStatus.APPROVED:
            reasons.append("The invoice is not in the Approved status.")
        return reasons

    def erp_sender_may(self, user: Any) -> bool:
        return can_manage_owner_invoices(user, self.prime_contract.project)

    erp_snapshot_format = SnapshotFormat(
        labels={
            "erp_job_id": "ERP job id",
            "prime_contract": "{prime_contract}",
            "owner_client": "{owner_client}",
            "start_date": "Start",
            "end_date": "End",
            "due_date": "Due",
            "position": "#",
            "work_completed_this_period": "Work completed this period",
            "retainage_percent": "Retainage %",
            "retainage_amount": "Retainage",
            "amount_due": "Amount due",
        },
        money=frozenset(
            {
                "scheduled_value",
                "work_completed_this_period",
                "materials_stored",
                "retainage_amount",
                "retainage",
                "amount_due",
            }
        ),
        dates=frozenset({"start_date", "end_date", "due_date"}),
        percents=frozenset({"retainage_percent"}),
        choices={"status": dict(InvoiceStatus.choices)},
        singular={"lines": "Line"},
        order=(
            "number",
            "status",
            "project",
            "prime_contract",
            "billing_period",
            "lines",
            "totals",
            "name",
            "title",
            "owner_client",
            "erp_job_id",
            "start_date",
            "end_date",
            "due_date",
            "position",
            "description",
            "scheduled_value",
            "work_completed_this_period",
            "materials_stored",
            "retainage_percent",
            "retainage_amount",
            "retainage",
            "amount_due",
        ),
    )

    @classmethod
    def erp_snapshot_summary(cls, snapshot: dict[str, Any]) -> str:
        due = (snapshot.get("totals") or {}).get("amount_due")
        return f"amount due {format_money(due)}" if due is not None else ""

    @classmethod
    def erp_snapshot_amount(cls, snapshot: dict[str, Any]) -> Decimal | None:
        """The amount due of the version submitted: what approval thresholds compare."""
        due = (snapshot.get("totals") or {}).get("amount_due")
        try:
            return None if due is None else Decimal(str(due))
        except ArithmeticError:
            return None

    def erp_snapshot(self) -> dict[str, Any]:
        contract, period, project = self.prime_contract, self.billing_period, self.project
        return {
            "kind": self.erp_kind,
            "number": self.number,
            "status": self.status,
            "project": {
                "number": project.number,
                "name": project.name,
                "erp_job_id": project.erp_job_id,
            },
            "prime_contract": {
                "number": contract.number,
                "title": contract.title,
                "owner_client": contract.owner_client,
            },
            "billing_period": None
            if period is None
            else {
                "number": period.number,
                "start_date": period.start_date.isoformat(),
                "end_date": period.end_date.isoformat(),
                "due_date": period.due_date.isoformat(),
            },
            "lines": [line.snapshot() for line in self.lines.all()],
            "totals": {key: str(value) for key, value in self.totals().items()},
        }


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(OwnerInvoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=1)
    description = models.CharField(max_length=300)
    scheduled_value = money_field("scheduled value", validators=[MinValueValidator(ZERO)])
    work_completed_this_period = money_field("work completed this period")
    materials_stored = money_field("materials stored")
    retainage_percent = DecimalField(
        "retainage %",
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))],
    )
    # Stored, not only computed, so that SQL sums give exactly the cents the lines show.
    retainage_amount = money_field("retainage", editable=False)
    amount_due = money_field("amount due this period", editable=False)

    class Meta:
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return self.description

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.compute()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "retainage_amount", "amount_due"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        work = self.work_completed_this_period
        if work is not None and work < ZERO:
            errors["work_completed_this_period"] = (
                "Work completed this period cannot be negative: bill a correction as its own "
                "line with the reason in its description, or fix the earlier invoice."
            )
        elif work is not None and self.scheduled_value is not None and work > self.scheduled_value:
            errors["work_completed_this_period"] = (
                f"Work completed this period ({work:,.2f}) is more than the line's scheduled "
                f"value ({self.scheduled_value:,.2f})."
            )
        if self.materials_stored is not None and self.materials_stored < ZERO:
            errors["materials_stored"] = "Materials stored cannot be negative."
        if errors:
            raise ValidationError(errors)

    def compute(self) -> None:
        """Work completed this period plus materials stored, less retainage, to the cent."""
        gross = self.work_completed_this_period + self.materials_stored
        self.retainage_amount = (gross * self.retainage_percent / Decimal(100)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        self.amount_due = gross - self.retainage_amount

    def snapshot(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "description": self.description,
            "scheduled_value": str(self.scheduled_value),
            "work_completed_this_period": str(self.work_completed_this_period),
            "materials_stored": str(self.materials_stored),
            "retainage_percent": str(self.retainage_percent),
            "retainage_amount": str(self.retainage_amount),
            "amount_due": str(self.amount_due),
        }
