"""Writes to prime contracts, billing periods, owner invoices and their lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction

from erpsync.services import (
    assign_fields,
    erp_retrieve,
    erp_send,
    locked_for_edit,
    record_edit,
    require_model_permission,
)
from invoicing.models import (
    BillingPeriod,
    ContractStatus,
    InvoiceLine,
    InvoiceStatus,
    OwnerInvoice,
    PrimeContract,
)
from projects.models import Project
from projects.permissions import (
    INVOICE_ADMIN_REQUIRED,
    PRIME_CONTRACT_ADMIN_REQUIRED,
    can_manage_owner_invoices,
    can_manage_prime_contracts,
)


def _save(obj: models.Model, *, unique_field: str, unique_message: str) -> None:
    obj.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise ValidationError({unique_field: unique_message}) from None


# ----- prime contracts and billing periods ------------------------------------------------


def _require_contract_admin(user: Any, project: Project) -> None:
    if not can_manage_prime_contracts(user, project):
        raise PermissionDenied(PRIME_CONTRACT_ADMIN_REQUIRED)


@transaction.atomic
def prime_contract_create(
    *,
    project: Project,
    user: Any,
    number: str,
    title: str,
    owner_client: str,
    status: str = ContractStatus.DRAFT,
    private: bool = False,
) -> PrimeContract:
    _require_contract_admin(user, project)
    contract = PrimeContract(
        project=project,
        number=(number or "").strip(),
        title=title,
        owner_client=owner_client,
        status=status,
        private=private,
    )
    if PrimeContract.objects.filter(project=project, number=contract.number).exists():
        raise ValidationError({"number": f"Contract number {contract.number!r} is already used."})
    _save(contract, unique_field="number", unique_message="This contract number is already used.")
    return contract


@transaction.atomic
def prime_contract_update(*, contract: PrimeContract, user: Any, **fields: Any) -> PrimeContract:
    _require_contract_admin(user, contract.project)
    locked = PrimeContract.objects.select_for_update().get(pk=contract.pk)
    if assign_fields(locked, fields, allowed={"title", "owner_client", "status", "private"}):
        _save(locked, unique_field="number", unique_message="This contract number is already used.")
    return locked


@transaction.atomic
def billing_period_create(
    *,
    project: Project,
    user: Any,
    number: int,
    start_date: date,
    end_date: date,
    due_date: date,
) -> BillingPeriod:
    _require_contract_admin(user, project)
    period = BillingPeriod(
        project=project, number=number, start_date=start_date, end_date=end_date, due_date=due_date
    )
    errors: dict[str, list[str]] = {}
    if BillingPeriod.objects.filter(project=project, number=number).exists():
        errors["number"] = [f"Billing period {number} already exists."]
    if start_date and end_date and end_date < start_date:
        # At the field here; the admin gets the model's check constraint.
        errors["end_date"] = ["A billing period cannot end before it starts."]
    try:
        period.clean()
    except ValidationError as error:
        errors |= error.message_dict
    if errors:
        raise ValidationError(errors)
    _save(period, unique_field="number", unique_message=f"Billing period {number} already exists.")
    return period


# ----- owner invoices -----------------------------------------------------------------------


def _require_invoice_admin(user: Any, project: Project) -> None:
    if not can_manage_owner_invoices(user, project):
        raise PermissionDenied(INVOICE_ADMIN_REQUIRED)


_NUMBER_TAKEN = "This invoice number is already used on this contract."


# A write's permission: the project's (pages) or the Django admin's own (_admin_site).
Require = Callable[[Any, Project], None]


def _admin_site(action: str, model: type[models.Model]) -> Require:
    def require(user: Any, project: Project) -> None:
        require_model_permission(user, action, model)

    return require


def _create_invoice(
    *,
    prime_contract: PrimeContract,
    user: Any,
    number: str,
    billing_period: BillingPeriod | None,
    status: str,
    require: Require,
) -> OwnerInvoice:
    require(user, prime_contract.project)
    invoice = OwnerInvoice(
        prime_contract=prime_contract,
        billing_period=billing_period,
        number=number,
        status=status,
        created_by=user,
    )
    _save(invoice, unique_field="number", unique_message=_NUMBER_TAKEN)
    record_edit(item=invoice, user=user, changes={"number": ["", invoice.number]}, created=True)
    return invoice


@transaction.atomic
def owner_invoice_create(
    *,
    prime_contract: PrimeContract,
    user: Any,
    number: str,
    billing_period: BillingPeriod | None,
    status: str = InvoiceStatus.DRAFT,
) -> OwnerInvoice:
    return _create_invoice(
        prime_contract=prime_contract,
        user=user,
        number=number,
        billing_period=billing_period,
        status=status,
        require=_require_invoice_admin,
    )


def _locked_invoice(invoice: OwnerInvoice, user: Any, require: Require) -> OwnerInvoice:
    require(user, invoice.prime_contract.project)
    return locked_for_edit(invoice)


def _update_invoice(
    *, invoice: OwnerInvoice, user: Any, fields: dict[str, Any], require: Require
) -> OwnerInvoice:
    locked = _locked_invoice(invoice, user, require)
    changes = assign_fields(locked, fields, allowed={"number", "billing_period", "status"})
    if changes:
        _save(locked, unique_field="number", unique_message=_NUMBER_TAKEN)
        record_edit(item=locked, user=user, changes=changes)
    return locked


@transaction.atomic
def owner_invoice_update(*, invoice: OwnerInvoice, user: Any, **fields: Any) -> OwnerInvoice:
    """Change number, billing period or status; refused while it is with the ERP tool."""
    return _update_invoice(
        invoice=invoice, user=user, fields=fields, require=_require_invoice_admin
    )


def _delete_invoice(*, invoice: OwnerInvoice, user: Any, require: Require) -> None:
    locked = _locked_invoice(invoice, user, require)
    if locked.status == InvoiceStatus.APPROVED:
        raise ValidationError("An approved invoice cannot be deleted.")
    if locked.erp_version:
        raise ValidationError(
            "An invoice that has been sent to ERP cannot be deleted: its history is kept."
        )
    record_edit(item=locked, user=user, changes={"owner invoice": [str(locked), "deleted"]})
    locked.delete()


@transaction.atomic
def owner_invoice_delete(*, invoice: OwnerInvoice, user: Any) -> None:
    _delete_invoice(invoice=invoice, user=user, require=_require_invoice_admin)


EDITABLE_LINE_FIELDS = {
    "position",
    "description",
    "scheduled_value",
    "work_completed_this_period",
    "materials_stored",
    "retainage_percent",
}


def _clean_line(line: InvoiceLine) -> None:
    # The entered fields first: compute() cannot do arithmetic on NaN or Infinity.
    line.clean_fields(exclude=["invoice", "retainage_amount", "amount_due"])
    line.compute()
    line.full_clean()


def _add_line(
    *, invoice: OwnerInvoice, user: Any, fields: dict[str, Any], require: Require
) -> InvoiceLine:
    locked = _locked_invoice(invoice, user, require)
    if set(fields) - EDITABLE_LINE_FIELDS:
        raise ValueError(
            f"Not a line field: {', '.join(sorted(set(fields) - EDITABLE_LINE_FIELDS))}"
        )
    if "position" not in fields:
        fields["position"] = locked.lines.count() + 1
    line = InvoiceLine(invoice=locked, **fields)
    _clean_line(line)
    line.save()
    record_edit(item=locked, user=user, changes={"lines": ["", f"added {line.description}"]})
    return line


def _locked_line(
    line: InvoiceLine, user: Any, require: Require
) -> tuple[OwnerInvoice, InvoiceLine]:
    """The line as stored, on its own invoice taken for an edit: never the invoice an unsaved
    copy of the line may name."""
    stored = InvoiceLine.objects.filter(pk=line.pk).select_related("invoice").first()
    if stored is None:
        raise ValidationError("This line no longer exists: reload the page.")
    locked = _locked_invoice(stored.invoice, user, require)
    return locked, InvoiceLine.objects.get(pk=stored.pk, invoice=locked)


def _update_line(
    *, line: InvoiceLine, user: Any, fields: dict[str, Any], require: Require
) -> InvoiceLine:
    locked, line = _locked_line(line, user, require)
    changes = assign_fields(line, fields, allowed=EDITABLE_LINE_FIELDS)
    if changes:
        _clean_line(line)
        line.save()
        record_edit(
            item=locked,
            user=user,
            changes={f"line {line.position} {name}": v for name, v in changes.items()},
        )
    return line


def _delete_line(*, line: InvoiceLine, user: Any, require: Require) -> None:
    locked, line = _locked_line(line, user, require)
    line.delete()
    record_edit(item=locked, user=user, changes={"lines": [line.description, "removed"]})


@transaction.atomic
def invoice_line_add(*, invoice: OwnerInvoice, user: Any, **fields: Any) -> InvoiceLine:
    return _add_line(invoice=invoice, user=user, fields=fields, require=_require_invoice_admin)


@transaction.atomic
def invoice_line_update(*, line: InvoiceLine, user: Any, **fields: Any) -> InvoiceLine:
    return _update_line(line=line, user=user, fields=fields, require=_require_invoice_admin)


@transaction.atomic
def invoice_line_delete(*, line: InvoiceLine, user: Any) -> None:
    _delete_line(line=line, user=user, require=_require_invoice_admin)


@dataclass(frozen=True)
class LineEdit:
    """One row of the invoice's edit form: a new line (`line` is None), a change to a line,
    or a deletion."""

    line: InvoiceLine | None
    fields: dict[str, Any] = field(default_factory=dict)
    delete: bool = False


class LineError(Exception):
    """A line of an invoice save was refused: `index` is its place in the `lines` given."""

    def __init__(self, index: int, error: ValidationError) -> None:
        self.index = index
        self.error = error
        super().__init__(f"Line {index + 1}: {' '.join(error.messages)}")


@transaction.atomic
def owner_invoice_save(
    *,
    invoice: OwnerInvoice,
    user: Any,
    data: dict[str, Any],
    lines: Sequence[LineEdit],
    seen_event: int | None = None,
) -> OwnerInvoice:
    """The invoice's fields, then each added, changed or deleted line, all or nothing.

    A ValidationError about the invoice's own fields is raised as it is; one about a line is
    raised as LineError naming the line, so the form can show it there. With `seen_event`
    (the newest audit row the edit form showed), a save after someone else's change is
    refused with StaleEdit and nothing is saved.
    """
    _require_invoice_admin(user, invoice.prime_contract.project)
    locked_for_edit(invoice, seen_event=seen_event)
    invoice = owner_invoice_update(invoice=invoice, user=user, **data)
    for index, line_edit in enumerate(lines):
        try:
            if line_edit.delete:
                if line_edit.line is not None:
                    invoice_line_delete(line=line_edit.line, user=user)
            elif line_edit.line is None:
                invoice_line_add(invoice=invoice, user=user, **line_edit.fields)
            else:
                invoice_line_update(line=line_edit.line, user=user, **line_edit.fields)
        except ValidationError as error:
            raise LineError(index, error) from error
    return invoice


def owner_invoice_send_to_erp(*, invoice: OwnerInvoice, user: Any) -> OwnerInvoice:
    return erp_send(item=invoice, user=user)


def owner_invoice_retrieve_from_erp(*, invoice: OwnerInvoice, user: Any) -> OwnerInvoice:
    return erp_retrieve(item=invoice, user=user)


# ----- the Django admin: its own permission, the same lock, validation and audit ------------


@transaction.atomic
def owner_invoice_admin_create(
    *,
    prime_contract: PrimeContract,
    user: Any,
    number: str,
    billing_period: BillingPeriod | None,
    status: str = InvoiceStatus.DRAFT,
) -> OwnerInvoice:
    return _create_invoice(
        prime_contract=prime_contract,
        user=user,
        number=number,
        billing_period=billing_period,
        status=status,
        require=_admin_site("add", OwnerInvoice),
    )


@transaction.atomic
def owner_invoice_admin_update(*, invoice: OwnerInvoice, user: Any, **fields: Any) -> OwnerInvoice:
    """Also when no field changed: the invoice is locked for its lines' edits that follow."""
    require = _admin_site("change", OwnerInvoice)
    return _update_invoice(invoice=invoice, user=user, fields=fields, require=require)


@transaction.atomic
def owner_invoice_admin_delete(*, invoice: OwnerInvoice, user: Any) -> None:
    _delete_invoice(invoice=invoice, user=user, require=_admin_site("delete", OwnerInvoice))


@transaction.atomic
def invoice_line_admin_add(*, invoice: OwnerInvoice, user: Any, **fields: Any) -> InvoiceLine:
    require = _admin_site("add", InvoiceLine)
    return _add_line(invoice=invoice, user=user, fields=fields, require=require)


@transaction.atomic
def invoice_line_admin_update(*, line: InvoiceLine, user: Any, **fields: Any) -> InvoiceLine:
    require = _admin_site("change", InvoiceLine)
    return _update_line(line=line, user=user, fields=fields, require=require)


@transaction.atomic
def invoice_line_admin_delete(*, line: InvoiceLine, user: Any) -> None:
    _delete_line(line=line, user=user, require=_admin_site("delete", InvoiceLine))
