"""Make a personal API token for a user from the command line (the demo's pull connector)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.services import MAX_DAYS, token_create
from erpsync import ops


class Command(BaseCommand):
    help = (
        "Create a personal API token for USER in a company and print it (it is shown only "
        "once; only its hash is kept). The token acts as that user, within that company. "
        "The creation is written to the company audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, metavar="SLUG", help="The company.")
        parser.add_argument("--user", required=True, metavar="USERNAME", help="Who it acts as.")
        parser.add_argument("--name", default="Command line", help="What uses it.")
        parser.add_argument(
            "--read-only", action="store_true", help="It may read but never change anything."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=90,
            metavar="N",
            help=f"Days until it expires (1 to {MAX_DAYS}; 0: never). Default 90.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            company = ops.get_company(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        try:
            _, raw = token_create(
                user=user,
                company=company,
                name=options["name"],
                read_only=options["read_only"],
                expires_in_days=options["days"] or None,
            )
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from None
        self.stdout.write(raw)
