"""The company settings pages (dictionary, ERP adapter, directory flags) and their services."""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from companysettings.services import (
    SettingsRefused,
    company_set_adapter,
    company_set_dictionary,
    membership_set_flags,
)
from erpsync.models import ErpEvent
from projects.models import Company, CompanyMembership, ToolLevel
from tests import factories as f
from tests.settings_pages import client_for, events, membership, text, url
from tests.test_webhook_adapter import FakeErp, erp  # noqa: F401 - the receiving ERP fixture

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "s3cret-only-the-erp-knows"


def everything() -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    return (
        tuple(
            Company.objects.order_by("pk").values_list(
                "pov_dictionary", "erp_adapter", "erp_settings"
            )
        ),
        tuple(
            CompanyMembership.objects.order_by("pk").values_list(
                "erp_tool_level", "can_push_to_accounting", "erp_digest_subscribed"
            )
        ),
        ErpEvent.objects.count(),
    )


@pytest.fixture
def erp_admin(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=False)


@pytest.fixture
def read_only(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.READ_ONLY, can_push_to_accounting=False)


@pytest.fixture
def non_member_of_tool(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.NONE, can_push_to_accounting=False)


@pytest.fixture
def outsider() -> Any:
    """An ERP tool Admin of another company."""
    return f.approver(f.CompanyFactory(), erp_tool_level=ToolLevel.ADMIN)


# ----- who may open the pages ----------------------------------------------------------------

PAGES = [
    ("settings_home", ()),
    ("settings_dictionary", ()),
    ("settings_adapter", ()),
    ("settings_members", ()),
]


@pytest.mark.parametrize("name", [p for p, _ in PAGES])
def test_an_erp_tool_admin_opens_every_settings_page(
    name: str, company: Any, erp_admin: Any
) -> None:
    response = client_for(erp_admin).get(url(name, company), follow=True)
    assert response.status_code == 200
    assert "Company settings" in text(response)


@pytest.mark.parametrize("name", [p for p, _ in PAGES])
@pytest.mark.parametrize(
    ("who", "held"),
    [("approver", "Standard"), ("read_only", "Read Only"), ("non_member_of_tool", "no permission")],
)
def test_other_members_are_refused_with_a_reason(
    request: pytest.FixtureRequest, name: str, who: str, held: str, company: Any
) -> None:
    user = request.getfixturevalue(who)
    response = client_for(user).get(url(name, company))
    assert response.status_code == 403
    reason = "Company settings are for Admins of the company's ERP Integrations tool"
    assert f"{reason}: you have {held} on it." in text(response)


@pytest.mark.parametrize("name", [p for p, _ in PAGES])
def test_another_companys_admin_gets_404(name: str, company: Any, outsider: Any) -> None:
    assert client_for(outsider).get(url(name, company)).status_code == 404


def test_a_user_of_no_company_gets_404_and_anonymous_is_sent_to_log_in(company: Any) -> None:
    assert client_for(f.UserFactory()).get(url("settings_dictionary", company)).status_code == 404
    response = Client().get(url("settings_dictionary", company))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("name", "args", "data"),
    [
        ("settings_dictionary", (), {"pov_dictionary": "owner"}),
        (
            "settings_adapter",
            (),
            {"fields_for": "sandbox", "adapter": "sandbox", "setting_fail": ""},
        ),
        ("settings_adapter_check", (), {}),
    ],
)
def test_forged_posts_of_a_standard_approver_change_nothing(
    name: str,
    args: tuple[Any, ...],
    data: dict[str, str],
    company: Any,
    approver: Any,
    erp_admin: Any,
) -> None:
    before = everything()
    response = client_for(approver).post(url(name, company, *args), data)
    assert response.status_code == 403
    assert everything() == before


def test_a_forged_flag_change_of_a_read_only_user_changes_nothing(
    company: Any, read_only: Any, approver: Any, erp_admin: Any
) -> None:
    target = membership(approver, company)
    before = everything()
    response = client_for(read_only).post(
        url("settings_member", company, target.pk), {f"m{target.pk}-erp_tool_level": "30"}
    )
    assert response.status_code == 403
    assert everything() == before


def test_a_member_of_another_company_is_404_in_the_directory_form(
    company: Any, erp_admin: Any, outsider: Any
) -> None:
    other = CompanyMembership.objects.get(user=outsider)
    response = client_for(erp_admin).post(
        url("settings_member", company, other.pk), {f"m{other.pk}-erp_tool_level": "0"}
    )
    assert response.status_code == 404
    assert (
        client_for(erp_admin).get(url("settings_member_history", company, other.pk)).status_code
        == 404
    )


# ----- dictionary -----------------------------------------------------------------------------


def test_the_dictionary_page_previews_every_dictionarys_terms(company: Any, erp_admin: Any) -> None:
    body = text(client_for(erp_admin).get(url("settings_dictionary", company)))
    for word in (
        "Prime Contracts",
        "Funding",
        "Client Contracts",
        "Progress Billings",
        "Funding Invoices",
    ):
        assert word in body
    assert re.search(r'value="general_contractor"[^>]*checked', body)


def test_choosing_a_dictionary_saves_it_with_an_audit_row(company: Any, erp_admin: Any) -> None:
    response = client_for(erp_admin).post(
        url("settings_dictionary", company), {"pov_dictionary": "owner"}
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.pov_dictionary == "owner"
    [event] = events(company)
    assert (event.actor, event.action, event.company) == (erp_admin, "edit", company)
    assert event.details == {
        "changes": {"pov_dictionary": ["General Contractors (default)", "Owners"]}
    }
    # The ERP Integrations tool now names owner invoices in the owners' words.
    body = text(
        client_for(erp_admin).get(reverse("erp_queue", args=[company.slug, "sub_job", "ready"]))
    )
    assert "Funding Invoices" in body


def test_an_unknown_dictionary_is_422_and_nothing_is_saved(company: Any, erp_admin: Any) -> None:
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_dictionary", company), {"pov_dictionary": "pirate"}
    )
    assert response.status_code == 422
    assert "Select a valid choice" in text(response)
    assert everything() == before
    with pytest.raises(ValidationError):
        company_set_dictionary(company=company, user=erp_admin, pov="pirate")


def test_the_dictionary_service_refuses_a_non_admin(company: Any, approver: Any) -> None:
    with pytest.raises(PermissionDenied):
        company_set_dictionary(company=company, user=approver, pov="owner")
    company.refresh_from_db()
    assert company.pov_dictionary == "general_contractor" and not events(company)


def test_saving_the_same_dictionary_writes_no_audit_row(company: Any, erp_admin: Any) -> None:
    company_set_dictionary(company=company, user=erp_admin, pov="general_contractor")
    assert not events(company)


# ----- ERP adapter ----------------------------------------------------------------------------


def webhook_post(**overrides: str) -> dict[str, str]:
    return {
        "fields_for": "webhook",
        "adapter": "webhook",
        "setting_url": "https://erp.example.com/hook",
        "setting_secret": SECRET,
        "setting_previous_secret": "",
        "setting_timeout": "5",
        **overrides,
    }


def test_the_adapter_page_shows_each_adapters_settings(company: Any, erp_admin: Any) -> None:
    client = client_for(erp_admin)
    body = text(client.get(url("settings_adapter", company)))
    assert 'data-adapter-form="sandbox"' in body and 'name="setting_fail"' in body
    body = text(client.get(url("settings_adapter", company) + "?adapter=webhook", **HTMX))
    assert body.lstrip().startswith('<form id="adapter-form"')
    for name in ("url", "secret", "previous_secret", "timeout"):
        assert f'name="setting_{name}"' in body
    restore = {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    body = text(client.get(url("settings_adapter", company) + "?adapter=webhook", **restore))
    assert "<html" in body  # Back in the browser restores the whole page
    body = text(client.get(url("settings_adapter", company) + "?adapter=tryton"))
    for name in ("url", "database", "username", "password", "timeout", "journal"):
        assert f'name="setting_{name}"' in body


def test_an_unknown_adapter_in_the_address_is_400(company: Any, erp_admin: Any) -> None:
    response = client_for(erp_admin).get(url("settings_adapter", company) + "?adapter=nope")
    assert response.status_code == 400
    assert "There is no ERP adapter 'nope'" in text(response)


def test_switching_to_webhook_saves_url_and_secret_and_masks_the_secret_in_the_audit_row(
    company: Any, erp_admin: Any
) -> None:
    response = client_for(erp_admin).post(url("settings_adapter", company), webhook_post())
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.erp_adapter == "webhook"
    assert company.erp_settings == {
        "url": "https://erp.example.com/hook",
        "secret": SECRET,
        "timeout": "5",
    }
    [event] = events(company)
    assert event.actor == erp_admin
    assert event.details["changes"] == {
        "erp_adapter": ["sandbox", "webhook"],
        "erp_settings.secret": ["", "***"],
        "erp_settings.timeout": ["", "5"],
        "erp_settings.url": ["", "https://erp.example.com/hook"],
    }
    assert SECRET not in json.dumps(event.details)


def test_a_stored_secret_is_never_rendered_and_a_blank_one_keeps_it(
    company: Any, erp_admin: Any
) -> None:
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={
            "url": "https://erp.example.com/hook",
            "secret": SECRET,
            "previous_secret": "old-one",
        },
    )
    client = client_for(erp_admin)
    body = text(client.get(url("settings_adapter", company)))
    assert SECRET not in body and "old-one" not in body
    assert "Set — leave blank to keep it." in body
    assert 'name="clear_previous_secret"' in body  # optional: can be cleared
    assert 'name="clear_secret"' not in body  # required: cannot

    response = client.post(
        url("settings_adapter", company),
        webhook_post(setting_secret="", setting_url="https://erp.example.com/v2"),
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.erp_settings["secret"] == SECRET
    assert company.erp_settings["previous_secret"] == "old-one"
    assert company.erp_settings["url"] == "https://erp.example.com/v2"
    assert events(company)[-1].details["changes"] == {
        "erp_settings.timeout": ["", "5"],
        "erp_settings.url": ["https://erp.example.com/hook", "https://erp.example.com/v2"],
    }


def test_clear_removes_an_optional_secret_and_the_audit_row_says_so_masked(
    company: Any, erp_admin: Any
) -> None:
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={
            "url": "https://erp.example.com/hook",
            "secret": SECRET,
            "previous_secret": "old-one",
        },
    )
    response = client_for(erp_admin).post(
        url("settings_adapter", company),
        webhook_post(setting_secret="", setting_timeout="", clear_previous_secret="on"),
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.erp_settings == {"url": "https://erp.example.com/hook", "secret": SECRET}
    changes = events(company)[-1].details["changes"]
    assert changes == {"erp_settings.previous_secret": ["***", ""]}
    assert "old-one" not in json.dumps([e.details for e in events(company)])


def test_changing_a_secret_is_audited_as_masked_on_both_sides(company: Any, erp_admin: Any) -> None:
    settings = {"url": "https://erp.example.com/hook", "secret": SECRET}
    company_set_adapter(company=company, user=erp_admin, adapter="webhook", settings=settings)
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={**settings, "secret": "new-one"},
    )
    assert events(company)[-1].details["changes"] == {"erp_settings.secret": ["***", "***"]}
    # Leaving the webhook for the sandbox drops its settings: the secret shows as removed.
    company_set_adapter(company=company, user=erp_admin, adapter="sandbox", settings={})
    assert events(company)[-1].details["changes"] == {
        "erp_adapter": ["webhook", "sandbox"],
        "erp_settings.secret": ["***", ""],
        "erp_settings.url": ["https://erp.example.com/hook", ""],
    }
    assert "new-one" not in json.dumps([e.details for e in events(company)])


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        ({"setting_url": ""}, "url", "The webhook URL (url) is missing."),
        ({"setting_url": "ftp://erp.example.com"}, "url", "must start with http:// or https://"),
        ({"setting_secret": ""}, "secret", "The webhook secret (secret) is missing."),
        ({"setting_timeout": "soon"}, "timeout", "must be a number of seconds above 0"),
        ({"setting_previous_secret": SECRET}, "previous_secret", "must differ from the secret"),
    ],
)
def test_settings_the_adapter_refuses_are_422_at_the_field_and_nothing_is_saved(
    post: dict[str, str], field: str, message: str, company: Any, erp_admin: Any
) -> None:
    before = everything()
    response = client_for(erp_admin).post(url("settings_adapter", company), webhook_post(**post))
    assert response.status_code == 422
    body = text(response)
    errors = re.search(rf'data-field-error="{field}">(.*?)</ul>', body, re.S)
    assert errors and message in errors.group(1)
    assert everything() == before
    assert SECRET not in body


def test_sandbox_fail_map_is_json_and_a_bad_one_is_422(company: Any, erp_admin: Any) -> None:
    client = client_for(erp_admin)
    post = {"fields_for": "sandbox", "adapter": "sandbox"}
    before = everything()
    response = client.post(url("settings_adapter", company), {**post, "setting_fail": "{oops"})
    assert response.status_code == 422 and "This is not valid JSON" in text(response)
    response = client.post(
        url("settings_adapter", company), {**post, "setting_fail": '{"08-000": "sometimes"}'}
    )
    assert response.status_code == 422
    assert 'fail["08-000"] must be "permanent", "transient" or "transient:N".' in text(response)
    assert everything() == before

    response = client.post(
        url("settings_adapter", company), {**post, "setting_fail": '{"08-000": "permanent"}'}
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.erp_settings == {"fail": {"08-000": "permanent"}}
    assert events(company)[-1].details["changes"] == {
        "erp_settings.fail": ["", '{"08-000":"permanent"}']
    }


def test_typing_a_secret_and_ticking_clear_is_refused(company: Any, erp_admin: Any) -> None:
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={
            "url": "https://erp.example.com/hook",
            "secret": SECRET,
            "previous_secret": "old",
        },
    )
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_adapter", company),
        webhook_post(setting_previous_secret="other", clear_previous_secret="on"),
    )
    assert response.status_code == 422
    assert "Either type a new previous secret or clear it, not both." in text(response)
    assert everything() == before


def test_choosing_another_adapter_without_javascript_shows_its_settings_first(
    company: Any, erp_admin: Any
) -> None:
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_adapter", company),
        {"fields_for": "sandbox", "adapter": "webhook", "setting_fail": ""},
    )
    assert response.status_code == 200
    body = text(response)
    assert 'data-adapter-form="webhook"' in body
    assert "Enter the settings of the Webhook adapter, then save." in body
    assert everything() == before


def test_the_adapter_service_refuses_a_non_admin_and_an_unknown_adapter(
    company: Any, approver: Any, erp_admin: Any
) -> None:
    with pytest.raises(PermissionDenied):
        company_set_adapter(company=company, user=approver, adapter="sandbox", settings={})
    with pytest.raises(ValidationError) as refused:
        company_set_adapter(company=company, user=erp_admin, adapter="nope", settings={})
    assert refused.value.message_dict == {"adapter": ["Choose one of the ERP adapters listed."]}
    assert not events(company)


def test_settings_set_by_erp_configure_that_the_page_does_not_show_are_kept(
    company: Any, erp_admin: Any
) -> None:
    company.erp_settings = {"fail": {}, "note": "kept"}
    company.save()
    response = client_for(erp_admin).post(
        url("settings_adapter", company),
        {"fields_for": "sandbox", "adapter": "sandbox", "setting_fail": '{"X": "permanent"}'},
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.erp_settings == {"fail": {"X": "permanent"}, "note": "kept"}


# ----- check connection -----------------------------------------------------------------------


def check(client: Client, company: Any, **extra: Any) -> Any:
    return client.post(url("settings_adapter_check", company), **extra)


def test_check_connection_of_the_sandbox_is_ok(company: Any, erp_admin: Any) -> None:
    response = check(client_for(erp_admin), company, **HTMX)
    assert response.status_code == 200
    body = text(response)
    assert 'data-check="ok"' in body and "Connection ok: the Sandbox ERP answers." in body


def test_check_connection_asks_a_real_webhook_erp_with_the_signed_request(
    company: Any,
    erp_admin: Any,
    erp: FakeErp,  # noqa: F811
) -> None:
    client = client_for(erp_admin)
    response = client.post(
        url("settings_adapter", company),
        webhook_post(setting_url=erp.url, setting_secret=erp.secrets[0]),
    )
    assert response.status_code == 302
    body = text(check(client, company, **HTMX))
    assert 'data-check="ok"' in body
    [request] = erp.requests
    assert request.method == "GET" and request.query == "check=1" and not erp.refusals

    # Without htmx the page says it too.
    page = text(check(client, company, follow=True))
    assert "Connection checked: the Webhook ERP answers." in page


def test_check_connection_shows_the_erps_refusal(
    company: Any,
    erp_admin: Any,
    erp: FakeErp,  # noqa: F811
) -> None:
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={"url": erp.url, "secret": "not-the-erps-secret"},
    )
    body = text(check(client_for(erp_admin), company, **HTMX))
    assert 'data-check="failed"' in body
    assert "The ERP refused our signature: check the secret (401" in body
    assert "not-the-erps-secret" not in body


def test_check_connection_of_an_erp_that_is_down_says_it_cannot_be_reached(
    company: Any, erp_admin: Any
) -> None:
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={"url": "http://127.0.0.1:9/hook", "secret": SECRET, "timeout": "2"},
    )
    body = text(check(client_for(erp_admin), company, **HTMX))
    assert 'data-check="failed"' in body and "could not be reached at 127.0.0.1:9" in body


# ----- directory flags ------------------------------------------------------------------------


def flags_post(member: CompanyMembership, level: int, push: bool, digest: bool) -> dict[str, str]:
    data = {f"m{member.pk}-erp_tool_level": str(level)}
    if push:
        data[f"m{member.pk}-can_push_to_accounting"] = "on"
    if digest:
        data[f"m{member.pk}-erp_digest_subscribed"] = "on"
    return data


def test_the_directory_lists_every_member_with_their_flags(
    company: Any, erp_admin: Any, approver: Any, read_only: Any
) -> None:
    body = text(client_for(erp_admin).get(url("settings_members", company)))
    for user in (erp_admin, approver, read_only):
        assert f'data-member="{user.username}"' in body
    target = membership(approver, company)
    row = re.search(rf'<tr id="member-row-{target.pk}".*?</tr>', body, re.S)
    assert row is not None
    assert re.search(r'value="20" selected', row.group(0))
    assert re.search(rf'name="m{target.pk}-can_push_to_accounting"[^>]*checked', row.group(0))
    assert f'form="member-{target.pk}"' in row.group(0)
    assert url("settings_member_history", company, target.pk) in row.group(0)


def test_an_admin_turns_can_push_to_accounting_off_and_on_with_audit_rows(
    company: Any, erp_admin: Any, approver: Any
) -> None:
    client = client_for(erp_admin)
    target = membership(approver, company)
    response = client.post(
        url("settings_member", company, target.pk),
        flags_post(target, ToolLevel.STANDARD, push=False, digest=False),
        **HTMX,
    )
    assert response.status_code == 200
    assert "data-row-saved" in text(response)
    target.refresh_from_db()
    assert not target.can_push_to_accounting and not target.is_accounting_approver

    response = client.post(
        url("settings_member", company, target.pk),
        flags_post(target, ToolLevel.STANDARD, push=True, digest=True),
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.can_push_to_accounting and target.erp_digest_subscribed

    first, second = events(target)
    assert (first.actor, first.company, first.action) == (erp_admin, company, "edit")
    assert first.details == {
        "changes": {"can_push_to_accounting": ["Yes", "No"]},
        "member": approver.username,
    }
    assert second.details["changes"] == {
        "can_push_to_accounting": ["No", "Yes"],
        "erp_digest_subscribed": ["No", "Yes"],
    }

    history = text(client.get(url("settings_member_history", company, target.pk)))
    assert "Can push to accounting: Yes → No" in history
    assert "Can push to accounting: No → Yes" in history
    assert "Subscribe to ERP digest emails: No → Yes" in history


def test_the_last_erp_tool_admin_cannot_be_removed(company: Any, erp_admin: Any) -> None:
    me = membership(erp_admin, company)
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_member", company, me.pk),
        flags_post(me, ToolLevel.STANDARD, push=False, digest=False),
        **HTMX,
    )
    assert response.status_code == 409
    assert "is the last Admin of" in text(response) and "make another member Admin first" in text(
        response
    )
    assert everything() == before
    with pytest.raises(SettingsRefused):
        membership_set_flags(membership=me, user=erp_admin, erp_tool_level=ToolLevel.NONE)
    # Without htmx: the refusal page.
    response = client_for(erp_admin).post(
        url("settings_member", company, me.pk), flags_post(me, ToolLevel.READ_ONLY, False, False)
    )
    assert response.status_code == 409 and "make another member Admin first" in text(response)
    assert everything() == before


def test_with_a_second_admin_one_may_step_down_and_loses_the_pages(
    company: Any, erp_admin: Any, approver: Any
) -> None:
    other = membership(approver, company)
    membership_set_flags(membership=other, user=erp_admin, erp_tool_level=ToolLevel.ADMIN)
    me = membership(erp_admin, company)
    client = client_for(erp_admin)
    response = client.post(
        url("settings_member", company, me.pk),
        flags_post(me, ToolLevel.STANDARD, push=False, digest=False),
        **HTMX,
    )
    assert response.status_code == 204 and response["HX-Redirect"] == reverse("home")
    me.refresh_from_db()
    assert me.erp_tool_level == ToolLevel.STANDARD
    assert client.get(url("settings_members", company)).status_code == 403
    # And now the other Admin is the last one.
    with pytest.raises(SettingsRefused):
        membership_set_flags(membership=other, user=approver, erp_tool_level=ToolLevel.STANDARD)


def test_a_bad_level_is_422_and_nothing_is_saved(
    company: Any, erp_admin: Any, approver: Any
) -> None:
    target = membership(approver, company)
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_member", company, target.pk), {f"m{target.pk}-erp_tool_level": "99"}, **HTMX
    )
    assert response.status_code == 422
    assert "data-row-error" in text(response)
    assert everything() == before
    with pytest.raises(ValidationError):
        membership_set_flags(membership=target, user=erp_admin, erp_tool_level=99)


def test_the_flags_service_refuses_a_non_admin(company: Any, approver: Any, read_only: Any) -> None:
    target = membership(read_only, company)
    with pytest.raises(PermissionDenied):
        membership_set_flags(membership=target, user=approver, can_push_to_accounting=True)
    target.refresh_from_db()
    assert not target.can_push_to_accounting and not events(target)


# ----- erp_configure writes to the same audit log --------------------------------------------


def test_erp_configure_writes_a_masked_audit_row_as_erpsync(company: Any, read_only: Any) -> None:
    call_command(
        "erp_configure",
        "--company",
        company.slug,
        "--adapter",
        "webhook",
        "--set",
        "url=https://erp.example.com/hook",
        "--set",
        f"secret={SECRET}",
        "--no-check",
        stdout=StringIO(),
    )
    [event] = events(company)
    assert event.actor is None and event.actor_name == "erpsync"
    assert event.details == {
        "changes": {
            "erp_adapter": ["sandbox", "webhook"],
            "erp_settings.secret": ["", "***"],
            "erp_settings.url": ["", "https://erp.example.com/hook"],
        },
        "by_ops": True,
    }
    body = text(client_for(read_only).get(reverse("audit_log", args=[company.slug])))
    assert "ERP adapter: sandbox → webhook" in body and SECRET not in body
