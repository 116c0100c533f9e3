"""Another connection's transaction, held open while a test acts: its row locks held, its
writes not yet committed (a second worker mid-claim, a request stuck in its view)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction


@contextmanager
def held_open(
    work: Callable[[], Any], *, seconds: float = 10, rollback: bool = False
) -> Iterator[tuple[Any, threading.Event]]:
    """Run `work` in a transaction on a connection of its own and keep that transaction open
    until the block ends or the yielded event is set (at most `seconds`); then commit it, or
    roll it back with `rollback`. Yields what `work` returned and the event."""
    ready, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold() -> None:
        try:
            with transaction.atomic():
                outcome["result"] = work()
                ready.set()
                release.wait(seconds)
                if rollback:
                    transaction.set_rollback(True)
        except BaseException as error:  # raised again in the test's thread
            outcome["error"] = error
        finally:
            ready.set()
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(10), "the other connection never got going"
        if "error" in outcome:
            raise outcome["error"]
        yield outcome.get("result"), release
    finally:
        release.set()
        thread.join(10)
    if "error" in outcome:  # its commit failed
        raise outcome["error"]
