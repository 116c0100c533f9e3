"""The item counts per state that the database keeps for the queue's tabs: check, fold, rebuild."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import counts
from erpsync.kinds import erp_item_models
from erpsync.selectors import counted_state_counts, state_counts
from projects.models import Company


class Command(BaseCommand):
    help = (
        "Compare the item counts per state that the database keeps (erpsync.counts, the "
        "queue's tabs) with the items counted one by one, for every company; exit 1 on a "
        "difference. --compact folds their rows together (what beat does); --rebuild counts "
        "every item again (after a loaddata, whose items the triggers count on top of the "
        "counts it loads)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--compact", action="store_true", help="Fold the rows together.")
        parser.add_argument("--rebuild", action="store_true", help="Count every item again.")

    def handle(self, *args: Any, **options: Any) -> None:
        models = list(erp_item_models())
        missing = counts.missing_triggers([m._meta.db_table for m in models])
        if missing:
            raise CommandError(
                f"The database lacks the count triggers {', '.join(missing)}: migrate, or run "
                "the kind's state_counts migration again."
            )
        if options["rebuild"]:
            counts.rebuild(models)
            self.stdout.write("Counted every item again.")
        if options["compact"]:
            self.stdout.write(f"Folded away {counts.compact()} rows.")
        differences = []
        for company in Company.objects.order_by("slug"):
            kept, counted = state_counts(company), counted_state_counts(company)
            for kind, by_state in counted.items():
                for state, n in by_state.items():
                    if kept[kind][state] != n:
                        differences.append(
                            f"{company.slug} {kind} {state}: kept {kept[kind][state]}, counted {n}"
                        )
        for line in differences:
            self.stdout.write(line)
        if differences:
            raise CommandError(
                f"{len(differences)} counts differ from the items: run erp_counts --rebuild."
            )
        self.stdout.write("The kept counts match the items.")
