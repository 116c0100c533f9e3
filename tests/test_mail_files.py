"""Mail files: one .eml file per message, named by time, kind and recipient (erpsync.mail)."""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives, mailers
from django.utils import timezone

from erpsync.config import FILE_BACKEND
from erpsync.mail import FileEmailBackend
from erpsync.models import OutboxEmail
from erpsync.outbox import deliver_email
from erpsync.services import erp_reject, erp_send

NAME = re.compile(r"^(\d{8}-\d{6}-\d{6})_([A-Za-z0-9@._+-]+)_([A-Za-z0-9@._+-]+?)(-\d+)?\.eml$")


@pytest.fixture
def mail_dir(settings: Any, tmp_path: Path) -> Path:
    """Email goes to files, as in the embedded default and for file:// EMAIL_URLs."""
    directory = tmp_path / "mail"
    settings.MAILERS = {"default": {"BACKEND": FILE_BACKEND, "OPTIONS": {"file_path": directory}}}
    return directory


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def name_parts(name: str) -> tuple[str, str, str]:
    """(time stamp, kind, recipient) of a mail file's name."""
    match = NAME.fullmatch(name)
    assert match, name
    return match.group(1), match.group(2), match.group(3)


@pytest.mark.django_db
def test_each_outbox_email_is_one_eml_file_named_by_time_kind_and_recipient(
    mail_dir: Path, sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong cost code")
    for row in OutboxEmail.objects.order_by("pk"):
        assert deliver_email(row.pk) == "sent"

    names = [p.name for p in files(mail_dir)]
    parts = {name_parts(n)[1:] for n in names}
    assert parts == {("submission", approver.email), ("rejection", admin.email)}
    [rejection] = [p for p in files(mail_dir) if "_rejection_" in p.name]
    message = message_from_bytes(rejection.read_bytes())
    assert message["X-Erpsync-Kind"] == "rejection"
    assert message["To"] == admin.email
    assert message["Subject"].startswith("Rejected: sub job")
    assert message.get_content_type() == "multipart/alternative"
    stamp = datetime.strptime(name_parts(rejection.name)[0], "%Y%m%d-%H%M%S-%f")
    assert abs((timezone.localtime().replace(tzinfo=None) - stamp).total_seconds()) < 60


def test_messages_of_the_same_moment_get_files_of_their_own(
    mail_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = datetime(2026, 12, 1, 14, 5, 12, 123456)
    monkeypatch.setattr(FileEmailBackend, "now", lambda self: moment)
    messages = [
        EmailMessage(
            f"Body {n}",
            f"Body {n}",
            to=["admin@example.com"],
            headers={"X-Erpsync-Kind": "rejection"},
        )
        for n in range(3)
    ]

    assert mailers.default.send_messages(messages) == 3

    assert [p.name for p in files(mail_dir)] == [
        "20261201-140512-123456_rejection_admin@example.com-2.eml",
        "20261201-140512-123456_rejection_admin@example.com-3.eml",
        "20261201-140512-123456_rejection_admin@example.com.eml",
    ]
    bodies = {message_from_bytes(p.read_bytes()).get_payload().strip() for p in files(mail_dir)}
    assert bodies == {"Body 0", "Body 1", "Body 2"}


def test_names_are_safe_for_file_systems_and_stay_in_the_directory(mail_dir: Path) -> None:
    message = EmailMessage(
        "s",
        "b",
        to=["Pat Approver <pat@example.com>"],
        headers={"X-Erpsync-Kind": '../../etc/pass wd:*?"<>|\\'},
    )
    other = EmailMessage("Rejected: sub job 03/000 (Élan)", "b", to=["a/../b@example.com"])

    mailers.default.send_messages([message, other])

    names = [p.name for p in files(mail_dir)]
    assert all(NAME.fullmatch(n) for n in names), names
    assert any(n.endswith("_etc-pass-wd_pat@example.com.eml") for n in names), names
    # No header: the subject names the kind.
    assert any("_rejected-sub-job-03-000-lan_a-..-b@example.com" in n for n in names), names
    assert [p.parent for p in files(mail_dir)] == [mail_dir, mail_dir]


def test_no_recipient_and_no_subject_still_make_a_name(mail_dir: Path) -> None:
    mail = EmailMultiAlternatives("", "b", bcc=["x@example.com", "y@example.com"])
    mailers.default.send_messages([mail])
    [path] = files(mail_dir)
    assert path.name.endswith("_email_x@example.com+1more.eml")
