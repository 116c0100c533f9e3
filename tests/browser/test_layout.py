"""Every main page at 1366 px and at 390 px: nothing wider than the window, and a screenshot
of each under var/screenshots/<width>/ for people to look at (not committed).

The page itself must never scroll sideways: wide tables scroll inside their card, long
unbroken text wraps, and the actions of a row stay reachable.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page

from api.services import token_create
from erpsync.adapters import ErpStatus
from erpsync.adapters.sandbox import sandbox_pay, sandbox_set_status
from erpsync.exports import erp_export
from erpsync.refresh import erp_refresh
from erpsync.services import erp_accept, erp_send
from erpsync.unlink import StillInErp, erp_unlink
from invoicing.models import InvoiceLine, OwnerInvoice
from projects.models import Company, CompanyMembership, Project
from subjobs.models import SubJob

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = {"desktop": (1366, 768), "phone": (390, 844)}
# No word breaks in 300 characters: the longest a line description may be.
UNBROKEN = "Reinforcing-steel-supply-and-placement-" * 7 + "end"


def page_urls() -> dict[str, dict[str, str]]:
    """{user: {name: path}}: the pages each demo user works in."""
    demo = Company.objects.get(slug="demo-builders")
    project = Project.objects.get(company=demo, number="DB-100")
    sub_job = SubJob.objects.get(project=project, code="04-000")
    invoice = OwnerInvoice.objects.filter(prime_contract__project=project).order_by("pk").first()
    assert invoice is not None
    contract = invoice.prime_contract
    # Waiting for its second approval: the ribbon and the preview say how far it got.
    partly = OwnerInvoice.objects.get(prime_contract=contract, number="INV-008")
    # A long unbroken description once made the invoice page 3,658 px wide.
    InvoiceLine.objects.filter(invoice=invoice).update(description=UNBROKEN[:300])
    slug = demo.slug
    # A token with a long name in the approver's list: its row must fit a phone too.
    approver = CompanyMembership.objects.get(company=demo, user__username="approver").user
    token_create(user=approver, company=demo, name=UNBROKEN[:100], read_only=True)
    # Life after sync: the synced invoice paid in the (sandbox) ERP and refreshed shows its
    # Paid badge; a synced sub job cancelled there shows the drift banner.
    paid = OwnerInvoice.objects.get(prime_contract__project=project, erp_state="synced")
    sandbox_pay(company=demo, erp_id=paid.erp_id)
    erp_refresh(item=paid, user=approver)
    drifted = SubJob.objects.get(project=project, code="07-000")
    sandbox_set_status(company=demo, erp_id=drifted.erp_id, status=ErpStatus.CANCELLED)
    erp_refresh(item=drifted, user=approver)
    unsynced = Project.objects.get(company=demo, number="DB-200")
    # Unlinked: a synced sub job taken back out of the ERP (the Archived list, its banner),
    # and the paid invoice's refused unlink (the Still in the ERP banner and row flag).
    sender = CompanyMembership.objects.get(company=demo, user__username="admin").user
    unlinked = erp_accept(
        item=erp_send(item=SubJob.objects.get(project=project, code="02-000"), user=sender),
        user=approver,
        export=False,
    )
    erp_export(model=SubJob, item_id=unlinked.pk, try_number=1, requeue=lambda _: None)
    erp_unlink(item=SubJob.objects.get(pk=unlinked.pk), user=approver)
    with contextlib.suppress(StillInErp):
        erp_unlink(item=paid, user=approver)
    return {
        "admin": {
            "home": reverse("home"),
            "project": reverse("project", args=[project.pk]),
            "admin-tool": reverse("project_admin", args=[project.pk]),
            "sub-jobs": reverse("sub_job_list", args=[project.pk]),
            "sub-job": reverse("sub_job_detail", args=[project.pk, sub_job.pk]),
            "sub-job-edit": reverse("sub_job_rename", args=[project.pk, sub_job.pk]),
            "prime-contracts": reverse("contract_list", args=[project.pk]),
            "contract": reverse("contract_detail", args=[project.pk, contract.pk]),
            "contract-invoices": reverse("contract_invoices", args=[project.pk, contract.pk]),
            "invoice": reverse("invoice_detail", args=[project.pk, invoice.pk]),
            "invoice-partly-approved": reverse("invoice_detail", args=[project.pk, partly.pk]),
            "invoice-paid": reverse("invoice_detail", args=[project.pk, paid.pk]),
            "sub-job-drifted": reverse("sub_job_detail", args=[project.pk, drifted.pk]),
            "sub-job-unlinked": reverse("sub_job_detail", args=[project.pk, unlinked.pk]),
            "job": reverse("job_detail", args=[project.pk]),
            "project-unsynced": reverse("project", args=[unsynced.pk]),
            "job-unsynced": reverse("job_detail", args=[unsynced.pk]),
            "invoicing": reverse("invoicing", args=[project.pk]),
            "project-directory": reverse("project_members", args=[project.pk]),
            "company-directory": reverse("company_members", args=[slug]),
            "erp-icons": reverse("erp_icons"),
            "password": reverse("password_change"),
            "not-found": "/no/such/page/",
        },
        "approver": {
            "ready-sub-jobs": reverse("erp_queue", args=[slug, "sub_job", "ready"]),
            "ready-invoices": reverse("erp_queue", args=[slug, "owner_invoice", "ready"]),
            "exporting": reverse("erp_queue", args=[slug, "sub_job", "exporting"]),
            "failed": reverse("erp_queue", args=[slug, "sub_job", "failed"]),
            "synced": reverse("erp_queue", args=[slug, "owner_invoice", "synced"]),
            "synced-sub-jobs": reverse("erp_queue", args=[slug, "sub_job", "synced"]),
            "ready-jobs": reverse("erp_queue", args=[slug, "job", "ready"]),
            "history": reverse("erp_queue", args=[slug, "owner_invoice", "history"]),
            "archived": reverse("erp_queue", args=[slug, "sub_job", "archived"]),
            "preview-invoice": reverse("erp_item", args=[slug, "owner_invoice", invoice.pk]),
            "preview-sub-job": reverse("erp_item", args=[slug, "sub_job", sub_job.pk]),
            "preview-partly-approved": reverse("erp_item", args=[slug, "owner_invoice", partly.pk]),
            "accountants": reverse("company_accountants", args=[slug]),
            "settings": reverse("settings_home", args=[slug]),
            "settings-dictionary": reverse("settings_dictionary", args=[slug]),
            "settings-adapter": reverse("settings_adapter", args=[slug]),
            "settings-members": reverse("settings_members", args=[slug]),
            "settings-approval-policy": reverse("settings_approval_policy", args=[slug]),
            "out-of-office": reverse("out_of_office", args=[slug]),
            "audit-log": reverse("audit_log", args=[slug]),
            "api-tokens": reverse("api_tokens"),
        },
    }


def overflow(page: Page) -> int:
    """How many pixels the document is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def widest(page: Page) -> str:
    """The element that sticks out furthest on the right: where to look when it fails."""
    return page.evaluate(
        """() => {
            let worst = null, right = window.innerWidth;
            for (const el of document.querySelectorAll('body *')) {
                const r = el.getBoundingClientRect();
                if (r.right > right + 1 && !el.closest('.table-wrap')) {
                    right = r.right; worst = el;
                }
            }
            return worst ? worst.tagName + '.' + worst.className + ' ' + Math.round(right) : '';
        }"""
    )


@pytest.mark.parametrize("viewport", list(WIDTHS))
def test_every_main_page_fits_the_window(
    page: Page,
    live_server: Any,
    demo: None,
    login: Callable[..., None],
    console_errors: list[str],
    viewport: str,
) -> None:
    width, height = WIDTHS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    folder = SCREENSHOTS / f"{width}"
    folder.mkdir(parents=True, exist_ok=True)
    too_wide: list[str] = []
    for user, pages in page_urls().items():
        login(user)
        for name, path in pages.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(folder / f"{user}-{name}.png"), full_page=True)
            extra = overflow(page)
            if extra > 0:
                too_wide.append(f"{name} ({path}): {extra} px too wide; {widest(page)}")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r".*/login/"))
    # The not-found page answers 404 on purpose; the browser logs that status as an error.
    assert all("404" in error for error in console_errors), console_errors
    console_errors.clear()
    assert too_wide == [], "\n".join(too_wide)


def test_a_phone_keeps_the_row_actions_on_screen(
    page: Page, live_server: Any, demo: None, login: Callable[..., None]
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login("approver")
    demo = Company.objects.get(slug="demo-builders")
    page.goto(f"{live_server.url}{reverse('erp_queue', args=[demo.slug, 'sub_job', 'ready'])}")
    # In view without scrolling anything sideways: inside the window and inside its card.
    for name in ("Accept", "Reject"):
        button = page.get_by_role("button", name=name, exact=True).first
        assert button.inner_text() == name  # never cut to "Acc"
        fits = button.evaluate(
            """b => {
                const r = b.getBoundingClientRect();
                const card = (b.closest('.table-wrap') || document.body).getBoundingClientRect();
                return r.left >= 0 && r.right <= window.innerWidth
                    && r.left >= card.left && r.right <= card.right;
            }"""
        )
        assert fits, f"{name} is not fully on screen at 390 px"


def test_a_rows_text_lines_up_with_its_buttons(
    page: Page, live_server: Any, demo: None, login: Callable[..., None]
) -> None:
    """The action column's buttons once sat lower than the rest of their row's text."""
    page.set_viewport_size({"width": 1366, "height": 768})
    login("admin")
    project = Project.objects.get(company__slug="demo-builders", number="DB-100")
    page.goto(f"{live_server.url}{reverse('sub_job_list', args=[project.pk])}")
    offsets = page.eval_on_selector_all(
        "table.sub-jobs tbody tr",
        """rows => rows.map(row => {
            const range = document.createRange();
            range.selectNodeContents(row.querySelector('td'));
            const text = range.getBoundingClientRect();
            const button = row.querySelector('td.actions a, td.actions button')
                .getBoundingClientRect();
            return Math.abs((text.top + text.bottom) / 2 - (button.top + button.bottom) / 2);
        })""",
    )
    assert offsets and max(offsets) <= 3, offsets


def test_a_rows_action_cell_spans_the_whole_row(
    page: Page, live_server: Any, demo: None, login: Callable[..., None]
) -> None:
    """`.actions` is a flex box; on a table cell that made it no cell at all, so its bottom
    border stopped at the button, above the rest of a tall row's."""
    approver = CompanyMembership.objects.get(
        user__username="approver", company__slug="demo-builders"
    )
    token_create(
        user=approver.user,
        company=approver.company,
        name="A month-end script whose rather long name wraps over several lines here",
    )
    page.set_viewport_size({"width": 1366, "height": 768})
    login("approver")
    page.goto(f"{live_server.url}{reverse('api_tokens')}")
    gaps = page.eval_on_selector_all(
        "table[data-token-list] tbody tr",
        """rows => rows.map(row => {
            const cell = row.querySelector('td.actions').getBoundingClientRect();
            const all = row.getBoundingClientRect();
            return [all.height, Math.abs(all.bottom - cell.bottom)];
        })""",
    )
    assert gaps and all(height > 60 and gap <= 1 for height, gap in gaps), gaps
