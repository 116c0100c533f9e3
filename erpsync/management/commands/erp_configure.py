"""Choose a company's ERP adapter and its settings, then check that the ERP answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from erpsync import ops
from erpsync.adapters import adapter_class
from erpsync.services import record_settings_event
from projects.models import Company


class Command(BaseCommand):
    help = (
        "Choose a company's ERP adapter (a key of settings.ERP_ADAPTERS) and set its settings. "
        "With the same adapter as now, --set changes only the settings it names and keeps the "
        "others, and --unset removes one; with a different adapter the settings start empty. "
        "Settings the adapter refuses (its validate_settings) are not saved. After saving, the "
        "adapter's check() is run unless --no-check; a failed check exits 1 but the settings "
        "stay saved. Values of settings named like secret, password or token are never printed. "
        "The change is written to the company audit log (as erpsync), secrets masked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company.")
        parser.add_argument(
            "--adapter",
            required=True,
            metavar="KEY",
            help="The adapter's key in settings.ERP_ADAPTERS "
            f"({', '.join(sorted(settings.ERP_ADAPTERS))}).",
        )
        parser.add_argument(
            "--set",
            dest="assignments",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="An adapter setting, stored as a string; repeat for several "
            "(e.g. --set timeout=5 --set api_token=...).",
        )
        parser.add_argument(
            "--unset",
            dest="removals",
            action="append",
            default=[],
            metavar="NAME",
            help="Remove a setting this company's adapter has; repeat for several "
            "(e.g. --unset previous_secret once a webhook secret rotation is over).",
        )
        parser.add_argument(
            "--no-check",
            action="store_true",
            help="Save without asking the ERP whether the settings work.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key: str = options["adapter"]
        if key not in settings.ERP_ADAPTERS:
            known = ", ".join(sorted(settings.ERP_ADAPTERS))
            raise CommandError(f"Unknown ERP adapter {key!r}: choose one of {known}.")
        try:
            cls = adapter_class(key)
        except ImproperlyConfigured as e:
            raise CommandError(str(e)) from None
        try:
            changes = ops.parse_assignments(options["assignments"])
        except ValueError as e:
            raise CommandError(f"--set: {e}") from None
        removals = {name.strip() for name in options["removals"]}
        if "" in removals:
            raise CommandError("--unset: expected a setting's NAME.")
        if both := sorted(removals & changes.keys()):
            raise CommandError(f"Settings both set and unset: {', '.join(both)}.")

        with transaction.atomic():
            try:
                company = Company.objects.select_for_update().get(slug=options["company"])
            except Company.DoesNotExist:
                raise CommandError(str(ops.UnknownCompany(options["company"]))) from None
            kept = dict(company.erp_settings or {}) if company.erp_adapter == key else {}
            if absent := sorted(removals - kept.keys()):
                # A typo must not pass for a removal, e.g. a rotation left half done.
                raise CommandError(
                    f"--unset: {', '.join(map(repr, absent))} is not set for {company.slug}'s "
                    f"{key} adapter; nothing was saved."
                )
            new_settings = {
                name: value for name, value in {**kept, **changes}.items() if name not in removals
            }
            problems = cls.validate_settings(new_settings)
            if problems:
                raise CommandError(
                    f"The {key} adapter refuses these settings; nothing was saved:\n"
                    + "\n".join(f"  - {p}" for p in problems)
                )
            previous = company.erp_adapter
            changes = ops.settings_changes(
                previous, dict(company.erp_settings or {}), key, new_settings
            )
            if previous != key:
                changes = {"erp_adapter": [previous, key], **changes}
            company.erp_adapter = key
            company.erp_settings = new_settings
            company.save(update_fields=["erp_adapter", "erp_settings"])
            if changes:
                # In the company audit log as ops ("erpsync"), secrets masked.
                record_settings_event(
                    obj=company, company=company, user=None, changes=changes, by_ops=True
                )

        change = f"{previous} -> {key}" if previous != key else key
        self.stdout.write(f"Saved {company.slug}: adapter {change} ({cls.label}).")
        self.stdout.write(f"Settings: {ops.describe_settings(new_settings)}")
        if options["no_check"]:
            self.stdout.write("Check skipped (--no-check).")
            return
        result = ops.check_company(company)
        if not result.ok:
            raise CommandError(
                f"The ERP check failed for {company.slug}: {result.error}\n"
                "The adapter and settings above ARE saved. Fix them with erp_configure, "
                f"then run: manage.py erp_check --company {company.slug}"
            )
        self.stdout.write(self.style.SUCCESS("Check: ok"))
