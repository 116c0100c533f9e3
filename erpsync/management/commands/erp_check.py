"""Ask each company's ERP adapter whether the ERP can be reached with its settings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops


class Command(BaseCommand):
    help = (
        "Run the ERP adapter's check() for every company (or one) and print 'ok' or the error "
        "per company. Exits 1 when any check failed. Changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", metavar="SLUG", help="Only this company (default: every company)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            company_list = ops.companies(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        if not company_list:
            self.stdout.write("No companies.")
            return
        failed: list[str] = []
        for company in company_list:
            result = ops.check_company(company)
            name = f"{company.slug} ({company.erp_adapter})"
            if result.ok:
                self.stdout.write(f"{name}: " + self.style.SUCCESS("ok"))
            else:
                failed.append(company.slug)
                self.stdout.write(f"{name}: " + self.style.ERROR(f"FAILED: {result.error}"))
        if failed:
            raise CommandError(
                f"The ERP check failed for {len(failed)} of {len(company_list)} companies: "
                + ", ".join(failed)
            )
