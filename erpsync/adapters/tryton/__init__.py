"""Tryton 8.0 (LTS) as the ERP, reached over its JSON-RPC API (stdlib only).

Settings (Company.erp_settings): ``url`` (the server, e.g. http://127.0.0.1:8000/),
``database``, ``username``, ``password`` (all required), ``timeout`` (seconds, default 30)
and, optional, the ERP objects it books into: ``receivable_account``, ``revenue_account``
(an account's code, name or id), ``journal`` (a journal's code, name or id),
``payment_term`` (a name or id) and ``analytic_root`` (an analytic root's code, name or id).
An object not named is the company's default in Tryton's accounting configuration, else the
only fitting candidate; with several candidates and no default the setting is required.

- A job (the project) becomes an analytic account under the analytic root (code = the
  project's number, found again by it). Its id is the ERP id, and the project's ERP job id.
- A sub job becomes an analytic account (code = the sub job's code) under the job's account:
  the one whose id is the project's ERP job id, else whose code is the ERP job id or the
  number (a project flagged synced by hand), created when missing. Its id is the ERP id.
- An owner invoice becomes a posted customer invoice (type out) for the owner/client party
  (found again by name, created with an address when missing): one line per invoice line
  (work completed this period plus materials stored) on the revenue account, one negative
  line for the retainage, every line tagged with the job's analytic account; ``reference``
  is the idempotency key, the description names our invoice number and billing period, the
  date is the period's end or today, whichever is earlier. Its id is the ERP id.
- Exactly once: before creating, the invoice is searched by ``reference``; a posted one is
  returned, a draft one (left when a try died between create and post) is posted first.
- No stale drafts: exporting version n of an invoice first deletes the draft invoices that
  earlier versions of the same item left (a post Tryton refused, then a fix and a resend),
  or cancels one Tryton will not delete; posted invoices are never touched. Only then is
  version n looked up and created, so a retry does the same and finds nothing left.
- Stray drafts (Capability.LIST_DRAFTS): ``drafts()`` lists every draft customer invoice
  whose reference is an erpsync key; erp_reconcile tells which no current export explains.
- Refresh (Capability.FETCH): see fetch.py. Rename (Capability.UPDATE): see update.py.
  Unlink (Capability.UNLINK): see unlink.py. Batches of invoices (Capability.EXPORT_MANY):
  see batch.py.
- Errors: unreachable, timeouts, a busy database, a concurrent update → TransientErpError;
  Tryton's user errors and warnings and a refused login → PermanentErpError (its message).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from erpsync.adapters.base import (
    Adapter,
    Capability,
    ErpError,
    ExportRequest,
    IdempotencyKey,
    PermanentErpError,
    SettingField,
    SettingKind,
    timeout_problems,
    url_problems,
)
from erpsync.adapters.tryton.batch import InvoiceBatch, TrytonBatch
from erpsync.adapters.tryton.fetch import TrytonFetch
from erpsync.adapters.tryton.money import CENT, money, payment_date
from erpsync.adapters.tryton.reconcile import TrytonReconcile
from erpsync.adapters.tryton.rpc import TrytonRpc
from erpsync.adapters.tryton.unlink import TrytonUnlink
from erpsync.adapters.tryton.update import TrytonUpdate

if TYPE_CHECKING:
    from projects.models import Company

RETAINAGE_DESCRIPTION = "Retainage withheld"


class TrytonAdapter(
    TrytonBatch, TrytonUpdate, TrytonUnlink, TrytonReconcile, TrytonFetch, TrytonRpc, Adapter
):
    key = "tryton"
    label = "Tryton"
    supports = frozenset({"job", "sub_job", "owner_invoice"})
    capabilities = frozenset(
        {Capability.RECONCILE, Capability.LIST_DRAFTS, Capability.FETCH, Capability.UNLINK}
    )
    capabilities |= {Capability.UPDATE}  # which kinds: TrytonUpdate.update_kinds
    capabilities |= {Capability.EXPORT_MANY}  # see batch.py

    REQUIRED = ("url", "database", "username", "password")
    OPTIONAL = ("receivable_account", "revenue_account", "journal", "payment_term", "analytic_root")
    setting_fields = (
        SettingField(
            "url",
            "URL",
            SettingKind.URL,
            required=True,
            help="The Tryton server, e.g. http://127.0.0.1:8000/.",
        ),
        SettingField("database", "Database", required=True),
        SettingField("username", "Username", required=True),
        SettingField("password", "Password", SettingKind.SECRET, required=True),
        SettingField(
            "timeout", "Timeout (seconds)", SettingKind.NUMBER, help="Default 30 seconds."
        ),
        SettingField(
            "receivable_account",
            "Receivable account",
            help="A code, name or id; blank: Tryton's default, else the only candidate.",
        ),
        SettingField("revenue_account", "Revenue account", help="A code, name or id."),
        SettingField("journal", "Journal", help="A code, name or id."),
        SettingField("payment_term", "Payment term", help="A name or id."),
        SettingField("analytic_root", "Analytic root", help="A code, name or id."),
    )

    def __init__(self, *, company: Company, settings: dict[str, Any] | None = None) -> None:
        super().__init__(company=company, settings=settings)
        self._problems = self.validate_settings(self.settings)
        self._auth: str | None = None
        self._context: dict[str, Any] = {}
        self._ids: dict[str, int] = {}
        self._config: dict[str, Any] | None = None
        # Parties and job accounts found or made by this adapter (one task's): a batch of
        # invoices for one owner and job looks them up once.
        self._found: dict[tuple[str, ...], Any] = {}
        self._request_id = 0

    # ----- settings -----------------------------------------------------------------------

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        for name in cls.REQUIRED:
            value = settings.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(f"The Tryton {name} ({name}) is missing.")
            elif not isinstance(value, str):
                problems.append(f"The Tryton {name} ({name}) must be text.")
        problems += url_problems(settings.get("url"), "Tryton URL")
        for name in cls.OPTIONAL:
            value = settings.get(name)
            if value is not None and not isinstance(value, str | int):
                problems.append(f"The Tryton {name} must be a code, a name or an id.")
        problems += timeout_problems(settings.get("timeout"), "Tryton")
        unknown = set(settings) - {*cls.REQUIRED, *cls.OPTIONAL, "timeout"}
        if unknown:
            problems.append(f"Unknown Tryton settings: {', '.join(sorted(unknown))}.")
        return problems

    @property
    def company_id(self) -> int:
        self.login()
        return int(self._context["company"])

    # ----- the ERP objects it books into ----------------------------------------------------

    def _configuration(self) -> dict[str, Any]:
        if self._config is None:
            rows = self.search_read(
                "account.configuration",
                [],
                ["default_account_receivable", "default_category_account_revenue"],
                limit=1,
            )
            self._config = rows[0] if rows else {}
        return self._config

    def _resolve(
        self,
        setting: str,
        model: str,
        domain: list[Any],
        keys: tuple[str, ...],
        what: str,
        default: int | None = None,
    ) -> int:
        """The id of the object a setting names (by one of `keys` or id), or the default."""
        if setting in self._ids:
            return self._ids[setting]
        value = self.settings.get(setting)
        if value is not None and str(value).strip():
            value = str(value).strip()
            found: list[dict[str, Any]] = []
            for key in keys:
                found = self.search_read(model, [*domain, [key, "=", value]], ["id"], limit=2)
                if found:
                    break
            if not found and value.isdigit():
                found = self.search_read(model, [*domain, ["id", "=", int(value)]], ["id"], 1)
            if not found:
                raise PermanentErpError(
                    f"Tryton has no {what} {value!r} (setting {setting}): fix the setting or "
                    "create it in Tryton."
                )
            if len(found) > 1:
                raise PermanentErpError(
                    f"Tryton has several {what}s {value!r} (setting {setting}): name one by id."
                )
            result = int(found[0]["id"])
        elif default:
            result = int(default)
        else:
            found = self.search_read(model, domain, ["id"], limit=2)
            if len(found) != 1:
                many = "several" if found else "no"
                raise PermanentErpError(
                    f"Tryton has {many} {what}s and the setting {setting} names none: set it."
                )
            result = int(found[0]["id"])
        self._ids[setting] = result
        return result

    def receivable_account(self) -> int:
        return self._resolve(
            "receivable_account",
            "account.account",
            [
                ["type.receivable", "=", True],
                ["closed", "!=", True],
                ["company", "=", self.company_id],
            ],
            ("code", "name"),
            "receivable account",
            default=self._configuration().get("default_account_receivable"),
        )

    def revenue_account(self) -> int:
        return self._resolve(
            "revenue_account",
            "account.account",
            [
                ["type.revenue", "=", True],
                ["closed", "!=", True],
                ["company", "=", self.company_id],
            ],
            ("code", "name"),
            "revenue account",
            default=self._configuration().get("default_category_account_revenue"),
        )

    def journal(self) -> int:
        return self._resolve(
            "journal", "account.journal", [["type", "=", "revenue"]], ("code", "name"), "journal"
        )

    def payment_term(self) -> int | None:
        if not str(self.settings.get("payment_term") or "").strip():
            return None  # the whole amount is due on the invoice date
        return self._resolve(
            "payment_term", "account.invoice.payment_term", [], ("name",), "payment term"
        )

    def analytic_root(self) -> int:
        return self._resolve(
            "analytic_root",
            "analytic_account.account",
            [["type", "=", "root"], ["company", "=", self.company_id]],
            ("code", "name"),
            "analytic root",
        )

    def check(self) -> None:
        self.login()
        self.receivable_account()
        self.revenue_account()
        self.journal()
        self.payment_term()
        self.analytic_root()

    # ----- the adapter ----------------------------------------------------------------------

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        if kind == "owner_invoice":
            return self._export_invoice(snapshot, idempotency_key)
        if kind == "sub_job":
            return self._export_sub_job(snapshot)
        if kind == "job":
            return self._export_job(snapshot)
        raise PermanentErpError(f"The Tryton adapter does not export {kind} items.")

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        if kind == "owner_invoice":
            invoice = self.find_invoice(idempotency_key)
            if invoice is None:
                return None
            if invoice["state"] == "draft":
                self.discard_earlier_drafts(idempotency_key)
                self.post_invoice(invoice["id"])
            return str(invoice["id"])
        # A job or sub job is found by its code under its parent, which the key does not carry:
        # the export itself finds what an earlier try made.
        return None

    # ----- owner invoices -------------------------------------------------------------------

    INVOICE_FIELDS = ["state", "total_amount", "reference", "number", "invoice_date"]

    def find_invoice(self, reference: str) -> dict[str, Any] | None:
        found = self.search_read(
            "account.invoice",
            [
                ["reference", "=", reference],
                ["type", "=", "out"],
                ["company", "=", self.company_id],
                ["state", "!=", "cancelled"],
            ],
            self.INVOICE_FIELDS,
            limit=2,
        )
        return found[0] if found else None

    def post_invoice(self, invoice_id: int) -> None:
        self.call("account.invoice", "post", [invoice_id])

    def discard_earlier_drafts(self, key: str) -> list[int]:
        """Delete the draft invoices that earlier versions of this key's item left in Tryton
        (cancel one Tryton refuses to delete) and return their ids. Such a draft is what a
        refused post leaves; once the item was rejected and resent, nothing would ever post
        or remove it, and someone posting it by hand would bill the owner twice. Posted
        invoices are never touched. Idempotent: a retry finds none left."""
        current = IdempotencyKey.parse(key)
        if current is None or current.version <= 1:
            return []
        found = self.search_read(
            "account.invoice",
            [
                # `_` in the pattern matches any character: the keys are parsed again below.
                ["reference", "like", f"{current.item_prefix}%"],
                ["type", "=", "out"],
                ["company", "=", self.company_id],
                ["state", "=", "draft"],
            ],
            ["reference"],
        )
        discarded = []
        for row in found:
            earlier = IdempotencyKey.parse(row["reference"] or "")
            if (
                earlier is None
                or earlier.item_prefix != current.item_prefix
                or earlier.version >= current.version
            ):
                continue
            invoice_id = int(row["id"])
            try:
                self.call("account.invoice", "delete", [invoice_id])
            except PermanentErpError as refused:
                try:
                    self.call("account.invoice", "cancel", [invoice_id])
                except PermanentErpError as also:
                    raise PermanentErpError(
                        f"Tryton keeps draft invoice {invoice_id} of version {earlier.version} "
                        f"({earlier}), which must not be posted beside version "
                        f"{current.version}: it refused to delete it ({refused.message}) and "
                        f"to cancel it ({also.message}). Delete or cancel it in Tryton, then "
                        "retry the export."
                    ) from also
            discarded.append(invoice_id)
        return discarded

    def _export_invoice(self, snapshot: dict[str, Any], key: str) -> str:
        # A batch of one: the same steps (drafts, lookup, create, post, check) and calls.
        answer = InvoiceBatch(self, [ExportRequest("owner_invoice", snapshot, key)]).run()[key]
        if isinstance(answer, ErpError):
            raise answer
        return answer

    def invoice_values(self, snapshot: dict[str, Any], key: str) -> dict[str, Any]:
        """The account.invoice create values for an owner invoice snapshot."""
        party_id, address_id = self.party(snapshot)
        revenue = self.revenue_account()
        job = self.job_account(snapshot.get("project") or {})
        root = self.analytic_root()
        period = snapshot.get("billing_period") or {}
        today = datetime.date.today()
        end = period.get("end_date")
        invoice_date = min(today, datetime.date.fromisoformat(end)) if end else today

        def line(description: str, amount: Decimal) -> dict[str, Any]:
            return {
                "type": "line",
                "description": description[:250] or "Work",
                "quantity": 1.0,
                "unit_price": amount,
                "account": revenue,
                "company": self.company_id,
                "currency": self.currency(),
                "invoice_type": "out",
                "analytic_accounts": [["create", [{"root": root, "account": job}]]],
            }

        lines = []
        retainage = Decimal(0)
        for row in snapshot.get("lines") or []:
            gross = money(row.get("work_completed_this_period", "0"), "work completed")
            gross += money(row.get("materials_stored", "0"), "materials stored")
            retainage += money(row.get("retainage_amount", "0"), "retainage")
            lines.append(line(str(row.get("description") or ""), gross.quantize(CENT)))
        if retainage:
            lines.append(line(RETAINAGE_DESCRIPTION, -retainage.quantize(CENT)))
        number = snapshot.get("number") or "?"
        description = f"Owner invoice {number}"
        if period:
            description += (
                f", billing period {period.get('number')} "
                f"({period.get('start_date')} to {period.get('end_date')})"
            )
        values: dict[str, Any] = {
            "company": self.company_id,
            "type": "out",
            "party": party_id,
            "invoice_address": address_id,
            "currency": self.currency(),
            "journal": self.journal(),
            "account": self.receivable_account(),
            "invoice_date": invoice_date,
            "reference": key,
            "description": description[:250],
            "lines": [["create", lines]],
        }
        term = self.payment_term()
        if term:
            values["payment_term"] = term
        due = payment_date(snapshot)
        if due is not None:
            values["payment_term_date"] = due
        return values

    def create_invoice(self, snapshot: dict[str, Any], key: str) -> int:
        """Create the draft invoice (not posted) and return its id."""
        (invoice_id,) = self.call("account.invoice", "create", [self.invoice_values(snapshot, key)])
        return int(invoice_id)

    def currency(self) -> int:
        if "_currency" not in self._ids:
            (company,) = self.call("company.company", "read", [self.company_id], ["currency"])
            self._ids["_currency"] = int(company["currency"])
        return self._ids["_currency"]

    def party(self, snapshot: dict[str, Any]) -> tuple[int, int]:
        """The owner/client party (found by name, created when missing) and its address."""
        contract = snapshot.get("prime_contract") or {}
        name = str(contract.get("owner_client") or "").strip()
        if not name:
            raise PermanentErpError("The invoice's prime contract names no owner/client.")
        if ("party", name) not in self._found:
            self._found["party", name] = self._party(name)
        return self._found["party", name]

    def _party(self, name: str) -> tuple[int, int]:
        found = self.search_read("party.party", [["name", "=", name]], ["addresses"], limit=1)
        if found:
            party_id, addresses = int(found[0]["id"]), found[0]["addresses"]
        else:
            (party_id,) = self.call(
                "party.party", "create", [{"name": name, "addresses": [["create", [{}]]]}]
            )
            addresses = []
        if not addresses:
            addresses = self.call("party.address", "create", [{"party": party_id}])
        return party_id, int(addresses[0])

    # ----- sub jobs -----------------------------------------------------------------------

    def job_account(self, project: dict[str, Any]) -> int:
        """The project's job analytic account under the root, created when missing."""
        job_id = str(project.get("erp_job_id") or "").strip()
        memo = ("job", job_id, str(project.get("number") or ""), str(project.get("name") or ""))
        if memo not in self._found:
            self._found[memo] = self._job_account(job_id, project)
        return self._found[memo]

    def _job_account(self, job_id: str, project: dict[str, Any]) -> int:
        root = self.analytic_root()
        if job_id.isdigit():
            # A synced job's ERP id is its account's id; an account elsewhere in the chart with
            # that id is not it (then the id was a hand-set code, looked up below).
            found = self.search_read(
                "analytic_account.account",
                [["id", "=", int(job_id)], ["parent", "=", root], ["root", "=", root]],
                ["id"],
                limit=1,
            )
            if found:
                return int(found[0]["id"])
        code = job_id or str(project.get("number") or "").strip()
        if not code:
            raise PermanentErpError("The project has neither an ERP job id nor a number.")
        name = f"{code} {project.get('name') or ''}".strip()
        return self._analytic(code, name, parent=root, root=root)

    def _analytic(self, code: str, name: str, *, parent: int, root: int) -> int:
        found = self.search_read(
            "analytic_account.account",
            [["code", "=", code], ["parent", "=", parent], ["root", "=", root]],
            ["id"],
            limit=1,
        )
        if found:
            return int(found[0]["id"])
        (account_id,) = self.call(
            "analytic_account.account",
            "create",
            [
                {
                    "code": code,
                    "name": name[:250],
                    "type": "normal",
                    "root": root,
                    "parent": parent,
                    "company": self.company_id,
                }
            ],
        )
        return int(account_id)

    def _export_job(self, snapshot: dict[str, Any]) -> str:
        code = str(snapshot.get("number") or "").strip()
        if not code:
            raise PermanentErpError("The project has no number.")
        root = self.analytic_root()
        name = f"{code} {snapshot.get('name') or ''}".strip()
        return str(self._analytic(code, name, parent=root, root=root))

    def _export_sub_job(self, snapshot: dict[str, Any]) -> str:
        code = str(snapshot.get("code") or "").strip()
        if not code:
            raise PermanentErpError("The sub job has no code.")
        job = self.job_account(snapshot.get("project") or {})
        name = f"{code} {snapshot.get('name') or ''}".strip()
        return str(self._analytic(code, name, parent=job, root=self.analytic_root()))
