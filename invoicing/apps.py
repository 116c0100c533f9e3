from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"

    def ready(self) -> None:
        from invoicing.access import visible_contracts
        from projects.terms import term
        from projects.tools import ToolTile, register_tile

        register_tile(
            ToolTile(
                key="prime_contracts",
                order=20,
                url_name="contract_list",
                title=lambda company: term(company, "prime_contracts"),
                description=lambda company: (
                    f"{term(company, 'owner_invoices')} on each "
                    f"{term(company, 'prime_contract').lower()}"
                ),
                # Invoice contacts see the contracts that name them, without tool access.
                visible=lambda access: (
                    access.sees_all_contracts
                    or access.manages_contracts
                    or visible_contracts(access).exists()
                ),
            )
        )
        register_tile(
            ToolTile(
                key="invoicing",
                order=30,
                url_name="invoicing",
                title=lambda company: term(company, "invoicing"),
                description=lambda company: (
                    f"Billing periods and every {term(company, 'owner_invoice').lower()}"
                ),
                visible=lambda access: access.sees_all_contracts,
            )
        )
