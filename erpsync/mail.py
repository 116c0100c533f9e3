"""An email backend that writes one .eml file per message, named so a person can find it.

`20261201-140512-123456_rejection_admin@example.com.eml`: when it was written (local time, to
the microsecond), the kind of email (the `X-Erpsync-Kind` header erpsync.outbox sets; without
it, the subject) and the recipient. Each file is a complete RFC 5322 message that mail clients
open. Django's own file backend instead names files by timestamp and process and appends
every message of a connection to one file.

Used for `file://` EMAIL_URLs and the embedded default (files under var/mail/).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, InvalidMailer
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

KIND_HEADER = "X-Erpsync-Kind"
# Characters kept in a file name part; anything else (slashes, spaces, colons, quotes, control
# characters) becomes "-", so names are safe on Linux, macOS and Windows file systems.
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")
PART_LIMIT = 60


def safe_part(text: str, fallback: str) -> str:
    """One file-name part: safe characters only, no leading dots, at most PART_LIMIT long."""
    part = _UNSAFE.sub("-", text.strip()).strip("-.")[:PART_LIMIT].strip("-.")
    return part or fallback


def file_name_parts(message: EmailMessage) -> tuple[str, str]:
    """(kind, recipient) for the file name of `message`."""
    headers = {k.lower(): v for k, v in (message.extra_headers or {}).items()}
    kind = headers.get(KIND_HEADER.lower()) or message.subject or ""
    recipients = list(message.to) + list(message.cc) + list(message.bcc)
    # "Pat Approver <pat@example.com>" names the file by the address alone.
    recipient = (parseaddr(recipients[0])[1] or recipients[0]) if recipients else ""
    if len(recipients) > 1:
        recipient = f"{recipient}+{len(recipients) - 1}more"
    return safe_part(str(kind).lower(), "email"), safe_part(str(recipient), "nobody")


class FileEmailBackend(BaseEmailBackend):
    """OPTIONS: `file_path`, the directory (created if missing)."""

    def __init__(self, *, file_path: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if file_path is None:
            raise InvalidMailer("OPTIONS must define 'file_path'.", alias=self.alias)
        self.file_path = Path(file_path).absolute()
        try:
            self.file_path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise InvalidMailer(
                f"'file_path' is not a directory: {self.file_path}", alias=self.alias
            ) from None
        except OSError as error:
            raise InvalidMailer(
                f"Could not create 'file_path': {self.file_path} ({error})", alias=self.alias
            ) from None
        if not os.access(self.file_path, os.W_OK):
            raise InvalidMailer(f"'file_path' is not writable: {self.file_path}", alias=self.alias)
        self._lock = threading.Lock()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            data = message.message().as_bytes()
            with self._lock:
                self.write(message, data)
            sent += 1
        return sent

    def now(self) -> datetime:
        """The file's time stamp: local time (TIME_ZONE)."""
        return timezone.localtime()

    def write(self, message: EmailMessage, data: bytes) -> Path:
        """Create the message's file, never overwriting one: another message of the same
        microsecond, kind and recipient (another process, say) gets a `-2`, `-3`… suffix."""
        stamp = self.now().strftime("%Y%m%d-%H%M%S-%f")
        kind, recipient = file_name_parts(message)
        base = f"{stamp}_{kind}_{recipient}"
        for n in range(1, 1000):
            path = self.file_path / (f"{base}.eml" if n == 1 else f"{base}-{n}.eml")
            try:
                # "x": created by this call or not at all, even against another process.
                with path.open("xb") as file:
                    file.write(data)
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"Could not find a free file name for {base}.eml")


FILE_BACKENDS = {
    f"{FileEmailBackend.__module__}.{FileEmailBackend.__qualname__}",
    "django.core.mail.backends.filebased.EmailBackend",
}


def mail_dirs() -> list[Path]:
    """The directories the configured mailers write files to (none for SMTP)."""
    return [
        Path(config["OPTIONS"]["file_path"]).absolute()
        for config in settings.MAILERS.values()
        if config.get("BACKEND") in FILE_BACKENDS and config.get("OPTIONS", {}).get("file_path")
    ]


def clear_mail_files() -> int:
    """Delete the mail files (ours and Django's file backend's) from those directories; the
    directories and anything else in them stay. Returns how many were deleted."""
    removed = 0
    for directory in mail_dirs():
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.is_file() and path.suffix in (".eml", ".log"):
                path.unlink(missing_ok=True)
                removed += 1
    return removed
