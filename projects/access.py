"""Who may see what: one getter per kind of object, used by every view.

A user outside an object's company gets 404, never a hint that the object exists; a member
of the company without the needed tool level gets 403 with a sentence saying what is missing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from invoicing.models import OwnerInvoice, PrimeContract
from projects.models import CompanyMembership, Project, ProjectMembership, ProjectTool, ToolLevel
from subjobs.models import SubJob


class ProjectAccess:
    """A user's standing on one project, read once per request."""

    def __init__(self, user: Any, project: Project, membership: ProjectMembership | None) -> None:
        self.user = user
        self.project = project
        self.membership = membership

    def level(self, tool: ProjectTool) -> ToolLevel:
        return self.membership.level(tool) if self.membership else ToolLevel.NONE

    def can_view(self, tool: ProjectTool) -> bool:
        return self.level(tool) >= ToolLevel.READ_ONLY

    def is_admin(self, tool: ProjectTool) -> bool:
        return self.level(tool) >= ToolLevel.ADMIN

    @property
    def manages_sub_jobs(self) -> bool:
        return self.is_admin(ProjectTool.ADMIN)

    @property
    def manages_contracts(self) -> bool:
        return self.is_admin(ProjectTool.PRIME_CONTRACTS)

    @property
    def manages_invoices(self) -> bool:
        return self.is_admin(ProjectTool.COMMITMENTS) or self.is_admin(ProjectTool.PRIME_CONTRACTS)

    @property
    def sees_all_contracts(self) -> bool:
        return self.can_view(ProjectTool.PRIME_CONTRACTS) or self.can_view(ProjectTool.COMMITMENTS)

    def require(self, allowed: bool, message: str) -> None:
        if not allowed:
            raise PermissionDenied(message)


def project_access(user: Any, project_id: int) -> ProjectAccess:
    """The project, if the user belongs to its company (else 404) and to the project (else 403)."""
    project = Project.objects.select_related("company").filter(pk=project_id).first()
    if project is None or not user.is_authenticated:
        raise Http404("No such project.")
    if not CompanyMembership.objects.filter(company_id=project.company_id, user=user).exists():
        raise Http404("No such project.")
    membership = ProjectMembership.objects.filter(project=project, user=user).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this project.")
    return ProjectAccess(user, project, membership)


def company_access(user: Any, slug: str) -> CompanyMembership:
    """The user's membership of the company with this slug, its company joined, in one query;
    404 when the user is not a member of it (or it does not exist)."""
    if not user.is_authenticated:
        raise Http404("No such company.")
    membership = (
        CompanyMembership.objects.select_related("company")
        .filter(company__slug=slug, user=user)
        .first()
    )
    if membership is None:
        raise Http404("No such company.")
    return membership


def get_sub_job(access: ProjectAccess, sub_job_id: int) -> SubJob:
    access.require(
        access.can_view(ProjectTool.ADMIN),
        "Sub jobs are in the project's Admin tool: you need Read Only or more on it.",
    )
    sub_job = (
        SubJob.objects.select_related("project__company", "erp_sent_by", "erp_changed_by")
        .filter(pk=sub_job_id, project=access.project)
        .first()
    )
    if sub_job is None:
        raise Http404("No such sub job.")
    return sub_job


def visible_contracts(access: ProjectAccess) -> QuerySet[PrimeContract]:
    """Contracts the user may see: all but private ones with tool access (private ones to
    tool admins and listed members); otherwise only those naming the user as invoice contact
    or private member."""
    contracts = PrimeContract.objects.filter(project=access.project)
    user = access.user
    if access.manages_contracts:
        return contracts
    if access.sees_all_contracts:
        return contracts.filter(Q(private=False) | Q(private_members=user)).distinct()
    return contracts.filter(Q(invoice_contacts=user) | Q(private_members=user)).distinct()


def get_contract(access: ProjectAccess, contract_id: int) -> PrimeContract:
    contract = visible_contracts(access).filter(pk=contract_id).first()
    if contract is None:
        raise Http404("No such prime contract.")
    return contract


def get_invoice(access: ProjectAccess, invoice_id: int) -> OwnerInvoice:
    invoice = (
        OwnerInvoice.objects.select_related(
            "prime_contract__project__company", "billing_period", "erp_sent_by", "erp_changed_by"
        )
        .filter(pk=invoice_id, prime_contract__in=visible_contracts(access))
        .first()
    )
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice
