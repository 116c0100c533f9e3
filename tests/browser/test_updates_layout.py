"""Ready to Update's pages at 1366 px and at 390 px: nothing wider than the window, the
update's buttons on screen, and screenshots under var/screenshots/<width>/updates-*.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import Page

from erpsync.updates import erp_request_update
from projects.models import Company, Project
from subjobs.models import SubJob
from tests.browser.test_layout import SCREENSHOTS, WIDTHS, overflow, widest

pytestmark = pytest.mark.django_db(transaction=True)

# A long name without a break: the side-by-side change must wrap, not widen the page.
LONG_NAME = "Thermal-and-moisture-protection-including-roofing-and-flashing-" * 3 + "end"


@pytest.mark.parametrize("viewport", list(WIDTHS))
def test_ready_to_update_pages_fit_the_window(
    page: Page, live_server: Any, demo: None, login: Callable[..., None], viewport: str
) -> None:
    demo_company = Company.objects.get(slug="demo-builders")
    project = Project.objects.get(company=demo_company, number="DB-100")
    unsynced = Project.objects.get(company=demo_company, number="DB-200")
    sub_job = SubJob.objects.get(project=project, code="07-000")
    admin = get_user_model().objects.get(username="admin")
    erp_request_update(item=sub_job, user=admin, values={"name": LONG_NAME})
    slug = demo_company.slug
    pages = {
        "admin": {
            "sub-job-update-pending": reverse("sub_job_detail", args=[project.pk, sub_job.pk]),
            "sub-jobs-update-pending": reverse("sub_job_list", args=[project.pk]),
            "sub-job-rename-synced": reverse("sub_job_rename", args=[project.pk, sub_job.pk]),
            "job-hand-synced": reverse("job_detail", args=[project.pk]),
            "job-rename": reverse("job_detail", args=[unsynced.pk]),
        },
        "approver": {
            "ready-to-update": reverse("erp_queue", args=[slug, "sub_job", "update"]),
            "synced-update-pending": reverse("erp_queue", args=[slug, "sub_job", "synced"]),
        },
    }
    width, height = WIDTHS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    folder = SCREENSHOTS / f"{width}"
    folder.mkdir(parents=True, exist_ok=True)
    too_wide: list[str] = []
    for user, urls in pages.items():
        login(user)
        for name, path in urls.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(folder / f"updates-{user}-{name}.png"), full_page=True)
            extra = overflow(page)
            if extra > 0:
                too_wide.append(f"{name} ({path}): {extra} px too wide; {widest(page)}")
            if name == "ready-to-update":
                for label in ("Accept", "Reject"):
                    button = page.get_by_role("button", name=label, exact=True).first
                    fits = button.evaluate(
                        """b => {
                            const r = b.getBoundingClientRect();
                            return r.left >= 0 && r.right <= window.innerWidth;
                        }"""
                    )
                    assert fits, f"{label} is not on screen at {width} px"
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r".*/login/"))
    assert too_wide == [], "\n".join(too_wide)
