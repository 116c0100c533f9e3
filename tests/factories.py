from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model

from invoicing.models import (
    BillingPeriod,
    ContractStatus,
    InvoiceLine,
    InvoiceStatus,
    OwnerInvoice,
    PrimeContract,
)
from projects.models import (
    Company,
    CompanyMembership,
    ExportRight,
    Project,
    ProjectMembership,
    ToolLevel,
)
from subjobs.models import SubJob


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class CompanyMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompanyMembership

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(UserFactory)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    company = factory.SubFactory(CompanyFactory)
    number = factory.Sequence(lambda n: f"P-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")


class ProjectMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectMembership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)


class SubJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubJob

    project = factory.SubFactory(ProjectFactory)
    code = factory.Sequence(lambda n: f"{n:02d}-000")
    name = factory.Sequence(lambda n: f"Sub job {n}")


class PrimeContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PrimeContract

    project = factory.SubFactory(ProjectFactory)
    number = factory.Sequence(lambda n: f"PC-{n:03d}")
    title = "Prime Contract"
    owner_client = "Owner LLC"
    status = ContractStatus.APPROVED


class BillingPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingPeriod

    project = factory.SubFactory(ProjectFactory)
    number = factory.Sequence(lambda n: n + 1)
    start_date = dt.date(2026, 10, 1)
    end_date = dt.date(2026, 10, 31)
    due_date = dt.date(2026, 11, 30)


class OwnerInvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OwnerInvoice

    prime_contract = factory.SubFactory(PrimeContractFactory)
    billing_period = factory.SubFactory(
        BillingPeriodFactory, project=factory.SelfAttribute("..prime_contract.project")
    )
    number = factory.Sequence(lambda n: f"INV-{n:03d}")
    status = InvoiceStatus.APPROVED


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(OwnerInvoiceFactory)
    description = factory.Sequence(lambda n: f"Line {n}")
    scheduled_value = Decimal("100000.00")
    work_completed_this_period = Decimal("10000.00")
    materials_stored = Decimal("2500.00")
    retainage_percent = Decimal("10.00")


ADMIN_ALL = {
    "admin_level": ToolLevel.ADMIN,
    "prime_contracts_level": ToolLevel.ADMIN,
    "commitments_level": ToolLevel.ADMIN,
}
READ_ONLY_ALL = {
    "admin_level": ToolLevel.READ_ONLY,
    "prime_contracts_level": ToolLevel.READ_ONLY,
    "commitments_level": ToolLevel.READ_ONLY,
}


def member(project: Project, *, admin: bool, **levels: Any) -> Any:
    """A user of the project's company with Admin (or Read Only) on every project tool."""
    user = UserFactory()
    CompanyMembershipFactory(company=project.company, user=user)
    ProjectMembershipFactory(
        project=project, user=user, **{**(ADMIN_ALL if admin else READ_ONLY_ALL), **levels}
    )
    return user


ALL_KINDS = ("job", "sub_job", "owner_invoice")


def approver(company: Company, *, kinds: tuple[str, ...] = ALL_KINDS, **overrides: Any) -> Any:
    """An accounting approver of the company, with the export right for `kinds`."""
    user = UserFactory()
    membership = CompanyMembershipFactory(
        company=company,
        user=user,
        **{"erp_tool_level": ToolLevel.STANDARD, "can_push_to_accounting": True, **overrides},
    )
    ExportRight.objects.bulk_create(ExportRight(membership=membership, kind=k) for k in kinds)
    return user


def invoice_ready_to_send(*, project: Project, user: Any = None, lines: int = 2) -> OwnerInvoice:
    invoice = OwnerInvoiceFactory(
        prime_contract__project=project, billing_period__project=project, created_by=user
    )
    for _ in range(lines):
        InvoiceLineFactory(invoice=invoice)
    return invoice
