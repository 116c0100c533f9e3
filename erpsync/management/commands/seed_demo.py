"""Load the demo companies, users, projects and items; safe to run twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction
from django.utils import timezone

from erpsync.exports import erp_export
from erpsync.kinds import erp_item_models
from erpsync.mail import clear_mail_files, mail_dirs
from erpsync.models import ApprovalRule, ErpItem
from erpsync.services import (
    erp_accept,
    erp_mark_export_failed,
    erp_reject,
)
from invoicing.models import ContractStatus, InvoiceStatus, OwnerInvoice
from invoicing.services import (
    billing_period_create,
    invoice_line_add,
    owner_invoice_create,
    owner_invoice_retrieve_from_erp,
    owner_invoice_send_to_erp,
    prime_contract_create,
)
from jobs.services import job_send
from projects.models import (
    Company,
    CompanyMembership,
    ExportRight,
    Project,
    ProjectMembership,
    ToolLevel,
)
from subjobs.models import SubJobStatus
from subjobs.services import sub_job_create, sub_job_retrieve_from_erp, sub_job_send_to_erp

DEFAULT_PASSWORD = "erpsync-demo"

USERS = {
    "admin": ("Alex", "Admin", "Admin on every project tool of Demo Builders"),
    "approver": ("Pat", "Approver", "accounting approver of Demo Builders, digest subscribed"),
    "controller": (
        "Sam",
        "Controller",
        "accounting approver and ERP tool Admin of Demo Builders (second approvals)",
    ),
    "viewer": ("Val", "Viewer", "Read Only everywhere at Demo Builders"),
    "collab": ("Cam", "Collaborator", "invoice contact on prime contract PC-001 only"),
    "outsider": ("Olive", "Outsider", "accounting approver of Other Co"),
}

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

# (code, name, target ERP state); every sub job of project DB-100 is Approved except the first.
SUB_JOBS = [
    ("01-000", "General Conditions", "draft"),
    ("02-000", "Sitework", "not_sent"),
    ("03-000", "Concrete", "pending"),
    ("04-000", "Masonry", "rejected"),
    ("05-000", "Metals", "retrieved"),
    ("06-000", "Wood and Plastics", "accepted"),
    ("07-000", "Thermal and Moisture Protection", "synced"),
    ("08-000", "Openings", "export_failed"),
]
REJECTION = {
    "sub_job": "Sub Job ID 04-000 is a division header in our chart: use 04-200 for unit masonry.",
    "owner_invoice": "Materials stored on line 2 ($18,500.00) exceed the delivered "
    "quantities: attach the delivery tickets or reduce it to what was delivered.",
}
EXPORT_ERROR = "ERP refused the export: cost code 08-000 is closed for posting in period 2026-10."


class Command(BaseCommand):
    help = "Load the demo data (company Demo Builders, users, projects, items in every ERP state)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"password for every demo user (default {DEFAULT_PASSWORD!r})",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="rebuild the demo from scratch first: delete the SQLite database (with "
            "--force, flush a PostgreSQL one instead of refusing), delete the mail files, "
            "migrate (make demo-reset)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --reset: also wipe a PostgreSQL database (every row of every table)",
        )

    def handle(
        self, *args: Any, password: str, reset: bool = False, force: bool = False, **options: Any
    ) -> None:
        self._check_password(password)
        if reset:
            self._reset(force=force)
        with transaction.atomic():
            users = self._users(password)
            created = not Company.objects.filter(slug="demo-builders").exists()
            if created:
                self._load(users)
        verb = "Loaded" if created else "Demo data already present; passwords reset for"
        self.stdout.write(self.style.SUCCESS(f"{verb} the demo (company Demo Builders)."))
        self.stdout.write(f"Demo logins (password for all: {password}):")
        for username, (_, _, role) in USERS.items():
            self.stdout.write(f"  {username:<9} {role}")

    def _reset(self, *, force: bool) -> None:
        """Start from an empty, migrated database and no mail files. A PostgreSQL database is
        wiped only with --force: DATABASE_URL may well name a real one."""
        db = connections["default"].settings_dict
        if db["ENGINE"].endswith("sqlite3"):
            name = str(db["NAME"])
            connections.close_all()
            if name and name != ":memory:" and not name.startswith("file:"):
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(name + suffix).unlink(missing_ok=True)
            call_command("migrate", interactive=False, verbosity=0)
            what = f"deleted and migrated the SQLite database {name}"
        else:
            where = f"{db['NAME']} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
            if not force:
                raise CommandError(
                    f"Refusing to reset: DATABASE_URL points at the PostgreSQL database {where}, "
                    "and a reset deletes every row in it. If that database holds only the demo, "
                    "run again with FORCE=1 (make demo-reset FORCE=1; seed_demo --reset --force)."
                )
            call_command("migrate", interactive=False, verbosity=0)
            call_command("flush", interactive=False, verbosity=0)
            what = f"flushed the PostgreSQL database {where}"
        removed = clear_mail_files()
        folders = ", ".join(str(d) for d in mail_dirs()) or "no mail directory"
        self.stdout.write(f"Reset the demo: {what}; deleted {removed} mail files ({folders}).")

    def _check_password(self, password: str) -> None:
        """Refuse a weak --password before anything is written, with the validators' reasons.

        set_password() itself validates nothing, so the check is made here, against each demo
        user's name and email (the similarity validator compares with them).
        """
        user_model = get_user_model()
        for username, (first, last, _) in USERS.items():
            user = user_model(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.com",
            )
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(
                    f"--password is too weak for the demo user {username!r}: "
                    + " ".join(exc.messages)
                ) from None

    def _users(self, password: str) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, (first, last, _) in USERS.items():
            user, _ = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                },
            )
            user.set_password(password)
            if username == "admin":
                # The demo admin may also open the Django admin for ops.
                user.is_staff = user.is_superuser = True
            user.save()
            users[username] = user
        return users

    def _load(self, u: dict[str, Any]) -> None:
        demo = Company.objects.create(name="Demo Builders", slug="demo-builders")
        # Other Co's one accountant sends and accepts alike: its policy lets them.
        other = Company.objects.create(name="Other Co", slug="other-co", block_self_approval=False)

        CompanyMembership.objects.create(
            company=demo,
            user=u["admin"],
            erp_tool_level=ToolLevel.READ_ONLY,
            can_create_projects=True,
        )
        CompanyMembership.objects.create(
            company=demo,
            user=u["approver"],
            erp_tool_level=ToolLevel.ADMIN,
            can_push_to_accounting=True,
            erp_digest_subscribed=True,
        )
        CompanyMembership.objects.create(
            company=demo,
            user=u["controller"],
            erp_tool_level=ToolLevel.ADMIN,
            can_push_to_accounting=True,
        )
        CompanyMembership.objects.create(
            company=demo, user=u["viewer"], erp_tool_level=ToolLevel.READ_ONLY
        )
        # Big owner invoices need a second approval, one of the two an ERP tool Admin's.
        ApprovalRule.objects.create(
            company=demo,
            kind=OwnerInvoice.erp_kind,
            min_amount=Decimal("250000.00"),
            approvals_required=2,
            needs_tool_admin=True,
        )
        CompanyMembership.objects.create(company=demo, user=u["collab"])
        CompanyMembership.objects.create(
            company=other,
            user=u["outsider"],
            erp_tool_level=ToolLevel.ADMIN,
            can_push_to_accounting=True,
            erp_digest_subscribed=True,
        )
        # Both approvers may accept every kind of item.
        ExportRight.objects.bulk_create(
            ExportRight(membership=membership, kind=model.erp_kind)
            for membership in CompanyMembership.objects.filter(can_push_to_accounting=True)
            for model in erp_item_models()
        )

        synced = Project.objects.create(
            company=demo, number="DB-100", name="Riverside Medical Office"
        )
        unsynced = Project.objects.create(company=demo, number="DB-200", name="Harbor Warehouse")
        other_project = Project.objects.create(company=other, number="OC-1", name="Other Co Tower")
        for project in (synced, unsynced):
            ProjectMembership.objects.create(project=project, user=u["admin"], **ADMIN_ALL)
            ProjectMembership.objects.create(project=project, user=u["viewer"], **READ_ONLY_ALL)
            ProjectMembership.objects.create(project=project, user=u["approver"], **READ_ONLY_ALL)
        ProjectMembership.objects.create(project=synced, user=u["collab"])
        ProjectMembership.objects.create(
            project=other_project,
            user=u["outsider"],
            **ADMIN_ALL,
        )

        admin, approver = u["admin"], u["approver"]
        # Synced as every project is: sent as its job, accepted and exported.
        for project, sender, accepter in (
            (synced, admin, approver),
            (other_project, u["outsider"], u["outsider"]),
        ):
            self._drive(
                job_send(project=project, user=sender), "synced", admin=sender, approver=accepter
            )
            project.refresh_from_db()
        for code, name, target in SUB_JOBS:
            status = SubJobStatus.DRAFT if target == "draft" else SubJobStatus.APPROVED
            sub_job = sub_job_create(
                project=synced, user=admin, code=code, name=name, status=status
            )
            if target not in ("draft", "not_sent"):
                sub_job = sub_job_send_to_erp(sub_job=sub_job, user=admin)
            self._drive(sub_job, target, admin=admin, approver=approver)
            if target == "retrieved":
                sub_job_retrieve_from_erp(sub_job=sub_job, user=admin)
        sub_job_create(
            project=unsynced,
            user=admin,
            code="01-000",
            name="General Conditions",
            status=SubJobStatus.APPROVED,
        )
        other_admin = u["outsider"]
        sub_job_create(
            project=other_project,
            user=other_admin,
            code="01-000",
            name="Tower Core",
            status=SubJobStatus.APPROVED,
        )

        self._invoices(demo, synced, unsynced, u)

    def _drive(self, item: ErpItem, target: str, *, admin: Any, approver: Any) -> None:
        """Move a sent item on to `target` through the approver's and the worker's services."""
        if target == "rejected":
            erp_reject(item=item, user=approver, reason=REJECTION[item.erp_kind])
        elif target == "accepted":
            # With eager tasks an accepted item is exported at once; this one is left to the
            # sweeper so that the demo shows the Exporting state.
            erp_accept(item=item, user=approver, export=False)
        elif target in ("synced", "export_failed"):
            item = erp_accept(item=item, user=approver)
            if target == "synced":
                result = erp_export(
                    model=type(item), item_id=item.pk, try_number=1, requeue=lambda _: None
                )
                assert result.outcome == "synced", result
            else:
                erp_mark_export_failed(item=item, error=EXPORT_ERROR)

    def _invoices(
        self, demo: Company, synced: Project, unsynced: Project, u: dict[str, Any]
    ) -> None:
        admin, approver = u["admin"], u["approver"]
        contract = prime_contract_create(
            project=synced,
            user=admin,
            number="PC-001",
            title="Riverside Medical Office – Prime Contract",
            owner_client="Riverside Health Partners",
            status=ContractStatus.APPROVED,
        )
        contract.invoice_contacts.add(u["collab"])
        private = prime_contract_create(
            project=synced,
            user=admin,
            number="PC-002",
            title="Riverside Parking Structure – Prime Contract",
            owner_client="Riverside Health Partners",
            status=ContractStatus.APPROVED,
            private=True,
        )
        private.private_members.add(admin)
        prime_contract_create(
            project=unsynced,
            user=admin,
            number="PC-100",
            title="Harbor Warehouse – Prime Contract",
            owner_client="Harbor Logistics LLC",
            status=ContractStatus.DRAFT,
        )

        today = timezone.localdate()
        periods = []
        first = (today.replace(day=1) - dt.timedelta(days=95)).replace(day=1)
        for number in range(1, 5):
            start = _add_months(first, number - 1)
            end = _add_months(start, 1) - dt.timedelta(days=1)
            periods.append(
                billing_period_create(
                    project=synced,
                    user=admin,
                    number=number,
                    start_date=start,
                    end_date=end,
                    due_date=end + dt.timedelta(days=30),
                )
            )

        plan = [
            ("INV-001", periods[0], InvoiceStatus.APPROVED, "synced"),
            ("INV-002", periods[1], InvoiceStatus.APPROVED, "rejected"),
            ("INV-003", periods[2], InvoiceStatus.APPROVED, "pending"),
            ("INV-004", periods[3], InvoiceStatus.APPROVED, "not_sent"),
            ("INV-005", periods[3], InvoiceStatus.UNDER_REVIEW, "not_sent"),
            ("INV-006", None, InvoiceStatus.DRAFT, "not_sent"),
            ("INV-007", periods[3], InvoiceStatus.REVISE_AND_RESUBMIT, "not_sent"),
        ]
        for index, (number, period, status, target) in enumerate(plan):
            invoice = _invoice(
                contract, admin, number, period, status, scale=index + 1, send=target != "not_sent"
            )
            if target != "not_sent":
                self._drive(invoice, target, admin=admin, approver=approver)
        pending = OwnerInvoice.objects.get(prime_contract=contract, number="INV-003")
        assert pending.erp_state == "pending"
        # Above the demo's $250,000.00 rule: the controller gave the first of its 2 approvals.
        big = _invoice(contract, admin, "INV-008", periods[3], scale=7, send=True)
        big = erp_accept(item=big, user=u["controller"])
        assert big.erp_state == "partially_approved", big.erp_state
        # A retrieved invoice on the private contract, so both YELLOW states appear.
        retrieved = _invoice(private, admin, "INV-101", periods[2], scale=2, send=True)
        owner_invoice_retrieve_from_erp(invoice=retrieved, user=admin)


def _invoice(
    contract: Any,
    admin: Any,
    number: str,
    period: Any,
    status: str = InvoiceStatus.APPROVED,
    *,
    scale: int,
    send: bool,
) -> OwnerInvoice:
    """An owner invoice with its lines (amounts times `scale`), sent to the ERP if `send`."""
    invoice = owner_invoice_create(
        prime_contract=contract, user=admin, number=number, billing_period=period, status=status
    )
    _lines(invoice, admin, scale=scale)
    return owner_invoice_send_to_erp(invoice=invoice, user=admin) if send else invoice


def _lines(invoice: OwnerInvoice, user: Any, *, scale: int) -> None:
    rows = [
        ("Site preparation and earthwork", "250000.00", "12500.00", "0.00"),
        ("Structural concrete", "480000.00", "21000.00", "18500.00"),
        ("Building envelope", "310000.00", "9750.50", "4200.00"),
    ]
    for description, scheduled, work, materials in rows:
        invoice_line_add(
            invoice=invoice,
            user=user,
            description=description,
            scheduled_value=Decimal(scheduled),
            work_completed_this_period=Decimal(work) * scale,
            materials_stored=Decimal(materials),
            retainage_percent=Decimal("10.00"),
        )


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=1)
