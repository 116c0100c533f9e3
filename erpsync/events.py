"""What the ERP core announces, and a small registry of who listens.

The core publishes a message when an item's ERP state changes (`ItemTransitioned`), when an
approver queues a stuck export again (`ExportRequeued`) and when a reconciliation finds drift
(`DriftFound`); it never knows who listens. Apps subscribe in
their `AppConfig.ready()`. A message is published inside the transaction that caused it, so
that a listener can write rows of its own atomically with it (an email's outbox row, say);
a listener that does I/O defers it with `transaction.on_commit`. A listener that raises
rolls the whole transition back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from erpsync.models import ErpEvent, ErpItem
    from projects.models import Company


@dataclass(frozen=True)
class ItemTransitioned:
    """An item's ERP state changed; `event` is its audit row, `item` the locked row after it.

    `queue_export` is False when an acceptance must not queue its export now (the demo
    leaves an item in Exporting to show that state).
    """

    item: ErpItem
    event: ErpEvent
    queue_export: bool = True

    @property
    def action(self) -> str:
        return self.event.action


@dataclass(frozen=True)
class ExportRequeued:
    """An approver queued an accepted item's stuck export again ("Export now"); `event` is
    its audit row. The state did not change: the item is still accepted."""

    item: ErpItem
    event: ErpEvent


@dataclass(frozen=True)
class DriftFound:
    """A reconciliation found that the company's ERP no longer matches synced items."""

    company: Company
    report: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Any], None]
BatchListener = Callable[[Sequence[Any]], None]
_listeners: defaultdict[type, list[Listener]] = defaultdict(list)
# A listener's form for many messages at once (publish_many): the same effect as calling the
# listener on each message, in a fixed number of queries for the lot.
_batch_forms: dict[Listener, BatchListener] = {}


def subscribe(message_type: type, listener: Listener, *, many: BatchListener | None = None) -> None:
    """Call `listener(message)` for every published message of `message_type`, once each
    even when subscribed twice (AppConfig.ready() may run again in tests). `many`, when
    given, is its form for a batch (publish_many): it must do what `listener` does to each."""
    if listener not in _listeners[message_type]:
        _listeners[message_type].append(listener)
    if many is not None:
        _batch_forms[listener] = many


def publish(message: object) -> None:
    for listener in list(_listeners[type(message)]):
        listener(message)


def publish_many(messages: Sequence[object]) -> None:
    """Publish messages of one type, as publish() on each would, inside the caller's
    transaction (a bulk decision's): a listener with a batch form gets them all at once, any
    other each in turn. Listeners run one after another over the batch rather than message
    by message; none depends on another's effects."""
    if not messages:
        return
    for listener in list(_listeners[type(messages[0])]):
        many = _batch_forms.get(listener)
        if many is not None:
            many(messages)
        else:
            for message in messages:
                listener(message)


def listeners(message_type: type) -> list[Listener]:
    return list(_listeners[message_type])
