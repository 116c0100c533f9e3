"""Accounts: login throttling and lockout, password validators, password change for everyone.

Logins go through the real login form (the test client posts it, so django-axes' backend sees
a request); `client.force_login` skips authentication and is unaffected by lockouts.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from axes.exceptions import AxesBackendRequestParameterRequired
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db.models import F
from django.http import HttpRequest
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from accounts.network import client_ip
from tests import factories as f
from tests.test_settings import clean_env, load_settings  # noqa: F401 (clean_env: a fixture)

pytestmark = pytest.mark.django_db

PASSWORD = "pw"  # tests.factories.UserFactory's password
NEW_PASSWORD = "correct-horse-battery-staple"


def _login(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _fail(client: Client, username: str, times: int, **extra: Any) -> Any:
    response = None
    for _ in range(times):
        response = _login(client, username, "wrong", **extra)
    return response


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _lock(client: Client, username: str, **extra: Any) -> Any:
    response = _fail(client, username, settings.AXES_FAILURE_LIMIT, **extra)
    assert response.status_code == 429
    return response


# ----- throttling and lockout ---------------------------------------------------------------


def test_wrong_passwords_up_to_the_limit_lock_the_account_with_a_readable_429(
    client: Client,
) -> None:
    user = f.UserFactory()
    limit = settings.AXES_FAILURE_LIMIT

    for _ in range(limit - 1):
        response = _login(client, user.username, "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.text

    response = _login(client, user.username, "wrong")
    assert response.status_code == 429
    assert f"locked for {settings.AXES_COOLOFF_MINUTES} minutes" in response.text
    assert "administrator" in response.text
    assert 'class="topbar"' in response.text  # the app's layout, not a bare text

    # While locked, the right password is refused too and logs nobody in.
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_defaults_are_five_failures_and_fifteen_minutes() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    cool_off = settings.AXES_COOLOFF_TIME
    assert cool_off == dt.timedelta(minutes=15)


def test_the_lockout_page_says_how_long_is_left_and_sets_retry_after(client: Client) -> None:
    user = f.UserFactory()
    response = _lock(client, user.username)
    assert response["Retry-After"] == str(settings.AXES_COOLOFF_MINUTES * 60)
    assert user.username in response.text
    assert "wait 15 minutes" in response.text

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=14))
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert "locked for 1 minute " in response.text
    assert response["Retry-After"] == "60"


def test_tries_while_locked_do_not_extend_the_lockout(client: Client) -> None:
    user = f.UserFactory()
    _lock(client, user.username)
    attempt = AccessAttempt.objects.get(username=user.username)

    _fail(client, user.username, 3)
    _login(client, user.username, PASSWORD)

    again = AccessAttempt.objects.get(username=user.username)
    assert (again.failures_since_start, again.attempt_time) == (
        attempt.failures_since_start,
        attempt.attempt_time,
    )


def test_the_lockout_ends_after_the_cool_off(client: Client) -> None:
    user = f.UserFactory()
    _lock(client, user.username)
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )

    response = _login(client, user.username, PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


@override_settings(AXES_COOLOFF_TIME=None)
def test_without_a_cool_off_only_an_administrator_unlocks(client: Client) -> None:
    user = f.UserFactory()
    response = _lock(client, user.username)
    assert "until an erpsync administrator unlocks the account" in response.text
    assert "Retry-After" not in response


def test_a_successful_login_before_the_limit_resets_the_count(client: Client) -> None:
    user = f.UserFactory()
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, user.username, limit - 1)
    assert _login(client, user.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))

    response = _fail(client, user.username, limit - 1)
    assert response.status_code == 200
    assert _login(client, user.username, PASSWORD).status_code == 302
    assert _logged_in(client)


def test_the_lockout_is_for_that_username_from_that_address(client: Client) -> None:
    user, colleague = f.UserFactory(), f.UserFactory()
    _lock(client, user.username)

    # The same user from another address, and a colleague from the same one, still log in.
    elsewhere = Client(REMOTE_ADDR="198.51.100.20")
    assert _login(elsewhere, user.username, PASSWORD).status_code == 302
    assert _login(Client(), colleague.username, PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client: Client) -> None:
    staff = f.UserFactory(is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/admin/login/", {"username": staff.username, "password": "wrong", "next": "/admin/"}
        )
    assert response.status_code == 429
    assert "Account locked" in response.text


def test_axes_reset_username_unlocks(client: Client) -> None:
    user = f.UserFactory()
    _lock(client, user.username)

    out = StringIO()
    call_command("axes_reset_username", user.username, stdout=out)

    assert "1 attempts removed" in out.getvalue()
    assert _login(client, user.username, PASSWORD).status_code == 302


def test_an_administrator_unlocks_in_the_admin(client: Client) -> None:
    user = f.UserFactory()
    _lock(client, user.username)
    attempt = AccessAttempt.objects.get(username=user.username)
    admin_client = Client()
    admin_client.force_login(f.UserFactory(is_staff=True, is_superuser=True))

    listing = admin_client.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listing.status_code == 200
    assert user.username in listing.text
    response = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _login(client, user.username, PASSWORD).status_code == 302


def test_client_login_needs_the_request_for_the_lockout_backend(client: Client) -> None:
    user = f.UserFactory()
    with pytest.raises(AxesBackendRequestParameterRequired):
        client.login(username=user.username, password=PASSWORD)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)


# ----- the client's address behind a proxy --------------------------------------------------


def _request(remote: str = "10.0.0.1", forwarded: str | None = None) -> Any:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/login/", **extra)


def test_without_a_proxy_the_peer_address_counts_and_the_header_is_ignored() -> None:
    assert settings.ERPSYNC_PROXY_COUNT == 0
    assert client_ip(_request(forwarded="203.0.113.7")) == "10.0.0.1"


@override_settings(ERPSYNC_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_it_appended_counts_not_what_the_client_wrote() -> None:
    assert client_ip(_request(forwarded="203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request(forwarded="1.1.1.1, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request(forwarded="")) == "10.0.0.1"
    assert client_ip(_request()) == "10.0.0.1"


@override_settings(ERPSYNC_PROXY_COUNT=2)
def test_behind_two_proxies_the_second_entry_from_the_right_counts() -> None:
    assert client_ip(_request(forwarded="1.1.1.1, 203.0.113.7, 10.0.0.9")) == "203.0.113.7"
    assert client_ip(_request(forwarded="203.0.113.7")) == "10.0.0.1"


@override_settings(ERPSYNC_PROXY_COUNT=1)
def test_behind_a_proxy_a_forged_header_does_not_escape_the_lockout() -> None:
    user = f.UserFactory()
    attacker = Client(REMOTE_ADDR="10.0.0.1")
    _lock(attacker, user.username, HTTP_X_FORWARDED_FOR="203.0.113.7")

    forged = _login(attacker, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="8.8.8.8, 203.0.113.7")
    assert forged.status_code == 429
    # The real user, at another address behind the same proxy, is not locked out.
    colleague = Client(REMOTE_ADDR="10.0.0.1")
    response = _login(colleague, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.44")
    assert response.status_code == 302


# ----- password change ----------------------------------------------------------------------


def test_the_password_change_page_needs_a_login() -> None:
    response = Client().get(reverse("password_change"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_top_bar_links_to_the_password_change_page(client: Client) -> None:
    client.force_login(f.UserFactory())
    response = client.get(reverse("home"))
    assert f'href="{reverse("password_change")}"' in response.text


@pytest.mark.parametrize(
    ("weak", "messages"),
    [
        (
            "12345678",
            [
                "This password is too short. It must contain at least 12 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        ("password1234", ["This password is too common."]),
    ],
)
def test_weak_passwords_are_refused_with_the_validators_message(
    client: Client, weak: str, messages: list[str]
) -> None:
    user = f.UserFactory()
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
    )

    assert response.status_code == 200
    for message in messages:
        assert message in response.text
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_password_like_the_username_is_refused(client: Client) -> None:
    user = f.UserFactory(username="marguerite.delacroix")
    client.force_login(user)
    similar = "marguerite.delacroix1"

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": similar, "new_password2": similar},
    )

    assert response.status_code == 200
    assert "The password is too similar to the username." in response.text


def test_a_user_who_is_not_staff_changes_their_password_and_logs_in_with_it(
    client: Client,
) -> None:
    user = f.UserFactory()
    assert not user.is_staff
    assert _login(client, user.username, PASSWORD).status_code == 302
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert "Change your password" in page.text
    assert 'class="topbar"' in page.text

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response.url == reverse("password_change_done")
    done = client.get(response.url)
    assert "Your password has been changed" in done.text
    assert _logged_in(client)  # the session survives its own password change

    client.post(reverse("logout"))
    assert _login(client, user.username, PASSWORD).status_code == 200
    assert _login(client, user.username, NEW_PASSWORD).status_code == 302
    assert _logged_in(client)


def test_a_password_change_logs_out_the_users_other_sessions() -> None:
    user = f.UserFactory()
    here, elsewhere = Client(), Client(REMOTE_ADDR="198.51.100.20")
    for client in (here, elsewhere):
        assert _login(client, user.username, PASSWORD).status_code == 302

    here.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert here.get(reverse("home")).status_code == 200
    response = elsewhere.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_wrong_current_password_changes_nothing(client: Client) -> None:
    user = f.UserFactory()
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.text
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# ----- seed_demo --password -----------------------------------------------------------------


def test_seed_demo_refuses_a_weak_password_and_writes_nothing() -> None:
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", "--password", "12345678", stdout=StringIO())

    message = str(refused.value)
    assert "--password is too weak" in message
    assert "This password is too short" in message
    assert "This password is too common." in message
    assert not get_user_model().objects.exists()


def test_seed_demo_accepts_the_default_demo_password() -> None:
    call_command("seed_demo", stdout=StringIO())
    assert get_user_model().objects.get(username="viewer").check_password("erpsync-demo")


# ----- settings -----------------------------------------------------------------------------


def test_lockout_and_password_settings_come_from_the_environment(
    clean_env: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    clean_env.setenv("AXES_FAILURE_LIMIT", "3")
    clean_env.setenv("AXES_COOLOFF_MINUTES", "30")
    clean_env.setenv("PASSWORD_MIN_LENGTH", "16")
    clean_env.setenv("ERPSYNC_PROXY_COUNT", "1")

    loaded = load_settings()

    assert loaded["AXES_FAILURE_LIMIT"] == 3
    assert loaded["AXES_COOLOFF_TIME"] == dt.timedelta(minutes=30)
    assert loaded["ERPSYNC_PROXY_COUNT"] == 1
    assert {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"} | {
        "OPTIONS": {"min_length": 16}
    } in loaded["AUTH_PASSWORD_VALIDATORS"]
    assert loaded["AUTHENTICATION_BACKENDS"][0] == "axes.backends.AxesStandaloneBackend"
    assert loaded["MIDDLEWARE"][-1] == "axes.middleware.AxesMiddleware"
    assert loaded["AXES_HANDLER"] == "axes.handlers.database.AxesDatabaseHandler"


def test_a_cool_off_of_zero_minutes_locks_until_an_administrator_unlocks(
    clean_env: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    clean_env.setenv("AXES_COOLOFF_MINUTES", "0")
    assert load_settings()["AXES_COOLOFF_TIME"] is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AXES_FAILURE_LIMIT", "0"),
        ("AXES_COOLOFF_MINUTES", "-1"),
        ("PASSWORD_MIN_LENGTH", "8"),
        ("ERPSYNC_PROXY_COUNT", "one"),
    ],
)
def test_a_bad_lockout_or_password_setting_stops_start_up_naming_it(
    clean_env: pytest.MonkeyPatch,  # noqa: F811
    name: str,
    value: str,
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings()
