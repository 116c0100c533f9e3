"""The state-machine mixin every kind of item uses: states, transitions, decisions, locks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, can_proceed, transition

from erpsync.adapters import Capability, ErpRecord, ErpStatus, adapter_class_for, pulls
from erpsync.approval import accept_refusals, approval_state, membership_of
from erpsync.names import display_name, when
from erpsync.snapshots import SnapshotFormat
from erpsync.states import (
    APPROVER_ACTIONS,
    AWAITING_APPROVAL,
    EDITABLE_STATES,
    ICONS,
    SENDER_ACTIONS,
    TRANSITIONS,
    Decision,
    ErpAction,
    ErpState,
    Icon,
    ItemLocked,
    Refusal,
    RefusalKind,
)
from projects.permissions import approver_required, approves_kind, is_accounting_approver
from projects.terms import TERMS, term

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from projects.models import Company, Project

    AnyUser = AbstractBaseUser | AnonymousUser


def _adapter_supports(item: ErpItem) -> bool:
    return item.erp_kind in adapter_class_for(item.erp_company).supports


# What an unlinked item keeps of its old ERP record: nothing (ErpRecord's amounts are None).
_NOTHING_FETCHED = ErpRecord(exists=False, status=ErpStatus.DELETED)

_NEEDS_ADAPTER_SUPPORT = frozenset(
    {ErpAction.SEND, ErpAction.RESEND, ErpAction.ACCEPT, ErpAction.RETRY_EXPORT}
)


class ErpItemQuerySet(models.QuerySet[Any]):
    def for_company(self, company: Company) -> ErpItemQuerySet:
        """The company's items of this kind."""
        return self.filter(**{self.model.erp_company_path: company})


class ErpItem(ConcurrentTransitionMixin, models.Model):
    """An item that a project user sends to the company's ERP Integrations tool.

    The state is protected: it changes only through the transitions below, which the
    services in erpsync.services call on a row taken with select_for_update. Transitions
    set state and bookkeeping fields and do no I/O.
    """

    # Set by each kind of item.
    erp_kind: ClassVar[str]
    erp_kind_label: ClassVar[str]
    # The lookup from the item to its company, for querysets (e.g. "project__company").
    erp_company_path: ClassVar[str]
    erp_project_path: ClassVar[str]
    # What erp_company, erp_title and the preconditions read: joined when a row is locked.
    erp_related: ClassVar[tuple[str, ...]] = ()
    # What the company audit log's free text matches (icontains): the item's code or number.
    erp_search_fields: ClassVar[tuple[str, ...]] = ()

    erp_state = FSMField(
        "ERP state",
        max_length=20,
        choices=ErpState.choices,
        default=ErpState.NOT_SENT,
        protected=True,
        db_index=True,
    )
    erp_version = models.PositiveIntegerField(
        "submitted version", default=0, help_text="Increases on every send and resend."
    )
    erp_id = models.CharField("ERP id", max_length=100, blank=True)
    erp_rejection_reason = models.TextField("last rejection reason", blank=True)
    erp_error = models.TextField("last export error", blank=True)
    erp_sent_at = models.DateTimeField(null=True, blank=True)
    erp_sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erp_accepted_at = models.DateTimeField(null=True, blank=True)
    erp_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erp_export_attempts = models.PositiveIntegerField(
        "export tries", default=0, help_text="Tries to export the accepted version so far."
    )
    erp_changed_at = models.DateTimeField(null=True, blank=True)
    erp_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the last refresh (erpsync.refresh) found wrong with the synced record in the ERP,
    # e.g. "Cancelled in the ERP"; empty when it matched. Shown on the item at once.
    erp_drift = models.TextField("ERP drift", blank=True)
    erp_refreshed_at = models.DateTimeField("last refreshed from the ERP", null=True, blank=True)
    # The last unlink (erpsync.unlink): the ERP id the item had, and who unlinked it when. Kept
    # after a new send, so the Archived list and the item page still name the old record.
    erp_unlinked_id = models.CharField("unlinked ERP id", max_length=100, blank=True)
    erp_unlinked_at = models.DateTimeField("unlinked from the ERP", null=True, blank=True)
    erp_unlinked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why the last Unlink was refused: the ERP record exists and cannot be voided ("Still in
    # the ERP"); empty otherwise. Cleared by a successful unlink.
    erp_unlink_refusal = models.TextField("still in the ERP", blank=True)

    objects = ErpItemQuerySet.as_manager()

    class Meta:
        abstract = True
        indexes = [
            # The approvers' lists: one state, oldest first, a page at a time.
            models.Index(fields=["erp_state", "erp_sent_at"], name="%(app_label)s_%(class)s_queue"),
            # Ready to Export, oldest first: its two states in one index, in the page's order,
            # so page 1 reads 50 entries instead of sorting the whole queue (100,000 items:
            # 124 ms → under 1 ms).
            models.Index(
                fields=["erp_sent_at", "id"],
                condition=models.Q(erp_state__in=sorted(AWAITING_APPROVAL)),
                name="%(app_label)s_%(class)s_ready",
            ),
        ]

    def get_absolute_url(self) -> str:
        """The item's own page, where its sender edits, sends and resends it."""
        raise NotImplementedError

    def clean_fields(self, exclude: Any = None) -> None:
        # full_clean would assign every field back; the protected state must not be touched.
        super().clean_fields(exclude={*(exclude or ()), "erp_state"})

    # ----- what each kind of item provides -------------------------------------------------

    erp_tab_order: ClassVar[int] = 100
    # The lists (queues, CSV): what free text searches (lookups from the item, e.g.
    # "project__name"), the field the Item column sorts by, and the amount the amount filter
    # reads (an annotation of erp_queue), if the kind has one.
    erp_search_fields: ClassVar[tuple[str, ...]] = ()
    erp_sort_field: ClassVar[str] = "pk"
    erp_amount_field: ClassVar[str | None] = None

    @classmethod
    def erp_csv_columns(cls, company: Company) -> list[tuple[str, str]]:
        """The kind's own columns in a CSV download: (heading, attribute path a.b.c)."""
        raise NotImplementedError

    @classmethod
    def erp_tab_label(cls, company: Company) -> str:
        """The tab's title in the company's ERP Integrations tool."""
        raise NotImplementedError

    @classmethod
    def erp_queue(cls, company: Company) -> models.QuerySet[Any]:
        """The company's items of this kind, joined with what every row of the tool shows (its
        project and the people who sent, accepted and last changed it); a kind adds its own
        joins and annotations on top (super().erp_queue(company))."""
        return cls.objects.for_company(company).select_related(
            cls.erp_project_path, "erp_sent_by", "erp_accepted_by", "erp_changed_by"
        )

    @property
    def erp_company(self) -> Company:
        raise NotImplementedError

    @property
    def erp_project(self) -> Project:
        """The item's project, following `erp_project_path` (e.g. prime_contract__project)."""
        obj: Any = self
        for name in self.erp_project_path.split("__"):
            obj = getattr(obj, name)
        return obj

    @property
    def erp_title(self) -> str:
        """How messages name the item, e.g. 'sub job 01-100'."""
        raise NotImplementedError

    def erp_send_preconditions(self) -> list[str]:
        """Sentences saying why the item cannot be sent now; empty when it can."""
        raise NotImplementedError

    def erp_sender_may(self, user: AnyUser | None) -> bool:
        raise NotImplementedError

    erp_sender_permission_message: ClassVar[str]

    def erp_snapshot(self) -> dict[str, Any]:
        """Exactly what is submitted to the ERP, as JSON-ready data (money as strings)."""
        raise NotImplementedError

    # How the snapshot reads on pages and in history (labels, money, dates).
    erp_snapshot_format: ClassVar[SnapshotFormat] = SnapshotFormat()

    @classmethod
    def erp_snapshot_summary(cls, snapshot: dict[str, Any]) -> str:
        """A submitted version in a few words, for history rows ('amount due $1,200.00')."""
        return ""

    @classmethod
    def erp_snapshot_amount(cls, snapshot: dict[str, Any]) -> Decimal | None:
        """The amount the approval rules read from a submitted version (None: no amount; only
        rules from $0.00 apply then)."""
        return None

    # Ready to Update (erpsync.updates): the fields a synced item's sender may still change,
    # each change exported as an update; or why the kind can never be updated once synced.
    erp_updatable_fields: ClassVar[tuple[str, ...]] = ()
    erp_not_updatable_reason: ClassVar[str] = ""  # "{name}" is the kind in the company's terms

    def erp_not_updatable(self) -> str:
        """Why the kind can never be updated once synced, in the company's terms ('' if it
        can be)."""
        name = self.erp_kind_label
        if self.erp_kind in TERMS:
            name = term(self.erp_company, self.erp_kind)
        return self.erp_not_updatable_reason.format(name=name)

    def erp_update_values(self) -> dict[str, str]:
        """The updatable fields' values as the item has them now."""
        return {name: str(getattr(self, name)) for name in self.erp_updatable_fields}

    def erp_update_apply(self, values: dict[str, str]) -> None:
        """Set and save updatable fields (validated); a kind whose fields live on another row
        (a job's name is its project's) overrides it."""
        for name, value in values.items():
            setattr(self, name, value)
        self.full_clean(validate_constraints=False)
        self.save()

    def erp_unlink_preconditions(self) -> list[str]:
        """Sentences saying why the synced item cannot be unlinked now (a job whose project's
        other items still use it, say); empty when it can."""
        return []

    def erp_apply_fetched(self, record: ErpRecord) -> list[str]:
        """Store what the kind keeps of a fetched ERP record (an invoice's payments) and say
        what changed, for the refresh's audit row; the default keeps nothing."""
        return []

    def erp_name_in(self, company: Company) -> str:
        """The item's title in the company's dictionary ('Funding Invoice INV-007')."""
        title = self.erp_title
        if self.erp_kind not in TERMS or not title.startswith(self.erp_kind_label):
            return title
        return f"{term(company, self.erp_kind)}{title.removeprefix(self.erp_kind_label)}"

    # ----- the state machine -----------------------------------------------------------------

    def _is_sendable(self) -> bool:
        return not self.erp_send_preconditions() and _adapter_supports(self)

    @transition(
        field="erp_state",
        source=[ErpState.NOT_SENT, ErpState.RETRIEVED],
        target=ErpState.PENDING,
        conditions=[_is_sendable],
    )
    def send(self, *, by: Any, at: datetime) -> None:
        self._record_submission(by=by, at=at)

    @transition(
        field="erp_state",
        source=ErpState.REJECTED,
        target=ErpState.PENDING,
        conditions=[_is_sendable],
    )
    def resend(self, *, by: Any, at: datetime) -> None:
        self._record_submission(by=by, at=at)

    def _record_submission(self, *, by: Any, at: datetime) -> None:
        self.erp_version += 1
        self.erp_sent_at = at
        self.erp_sent_by = by
        self._touch(by=by, at=at)

    @transition(field="erp_state", source=list(AWAITING_APPROVAL), target=ErpState.RETRIEVED)
    def retrieve(self, *, by: Any, at: datetime) -> None:
        self._touch(by=by, at=at)

    @transition(
        field="erp_state",
        source=list(AWAITING_APPROVAL),
        target=ErpState.PARTIALLY_APPROVED,
        conditions=[_adapter_supports],
    )
    def approve(self, *, by: Any, at: datetime) -> None:
        """One approval of several its amount needs (erpsync.approval); not yet accepted."""
        self._touch(by=by, at=at)

    @transition(
        field="erp_state",
        source=list(AWAITING_APPROVAL),
        target=ErpState.ACCEPTED,
        conditions=[_adapter_supports],
    )
    def accept(self, *, by: Any, at: datetime) -> None:
        self.erp_error = ""
        self.erp_accepted_by = by
        self.erp_accepted_at = at
        self.erp_export_attempts = 0
        self._touch(by=by, at=at)

    @transition(
        field="erp_state",
        source=[*AWAITING_APPROVAL, ErpState.EXPORT_FAILED],
        target=ErpState.REJECTED,
    )
    def reject(self, *, by: Any, at: datetime, reason: str) -> None:
        # A failed export may be rejected with no comment; keep the ERP's error as the reason.
        self.erp_rejection_reason = reason or self.erp_error
        self._touch(by=by, at=at)

    @transition(field="erp_state", source=ErpState.ACCEPTED, target=ErpState.SYNCED)
    def mark_synced(self, *, at: datetime, erp_id: str, attempts: int = 1) -> None:
        self.erp_id = erp_id
        self.erp_export_attempts += attempts
        self.erp_error = ""
        self._touch(by=None, at=at)

    @transition(field="erp_state", source=ErpState.ACCEPTED, target=ErpState.EXPORT_FAILED)
    def mark_export_failed(self, *, at: datetime, error: str, attempts: int = 1) -> None:
        self.erp_error = error
        self.erp_export_attempts += attempts
        self._touch(by=None, at=at)

    @transition(
        field="erp_state",
        source=ErpState.EXPORT_FAILED,
        target=ErpState.ACCEPTED,
        conditions=[_adapter_supports],
    )
    def retry_export(self, *, by: Any, at: datetime) -> None:
        self._touch(by=by, at=at)

    @transition(field="erp_state", source=ErpState.SYNCED, target=ErpState.NOT_SENT)
    def unlink(self, *, by: Any, at: datetime) -> None:
        """The ERP record is gone or voided (erpsync.unlink asked the ERP first): the item is
        free to be edited and sent again. The old ERP id is kept as erp_unlinked_id; what was
        read back from the old record (drift, an invoice's payments) no longer applies. The
        version is kept, so the next send is a new version with a new idempotency key."""
        self.erp_unlinked_id = self.erp_id
        self.erp_unlinked_at = at
        self.erp_unlinked_by = by
        self.erp_id = ""
        self.erp_drift = ""
        self.erp_unlink_refusal = ""
        self.erp_error = ""
        self.erp_refreshed_at = None
        self.erp_apply_fetched(_NOTHING_FETCHED)
        self._touch(by=by, at=at)

    def _touch(self, *, by: Any, at: datetime) -> None:
        self.erp_changed_by = by
        self.erp_changed_at = at

    # ----- decisions -------------------------------------------------------------------------

    def erp_decide(self, action: ErpAction, user: AnyUser | None) -> Decision:
        """Answer whether `user` may take `action` on this item now, with every reason why not."""
        action = ErpAction(action)
        if action not in TRANSITIONS:
            raise ValueError(f"{action} is not an ERP transition.")
        refusals: list[Refusal] = []
        if not can_proceed(getattr(self, action.value), check_conditions=False):
            refusals.append(Refusal(RefusalKind.STATE, self.erp_state_refusal(action)))
        if action in (ErpAction.SEND, ErpAction.RESEND):
            refusals += [
                Refusal(RefusalKind.PRECONDITION, m) for m in self.erp_send_preconditions()
            ]
        if action in _NEEDS_ADAPTER_SUPPORT and not _adapter_supports(self):
            refusals.append(Refusal(RefusalKind.PRECONDITION, self._unsupported_message()))
        if action in SENDER_ACTIONS and not self.erp_sender_may(user):
            refusals.append(Refusal(RefusalKind.PERMISSION, self.erp_sender_permission_message))
        if action in (ErpAction.ACCEPT, ErpAction.APPROVE):
            membership = membership_of(user, self.erp_company)
            if refusals:  # the state rules it out: the policy's reasons would only add noise
                if not approves_kind(membership, self.erp_kind):
                    refusals.append(
                        Refusal(RefusalKind.PERMISSION, approver_required(self.erp_kind_label))
                    )
            else:
                refusals += accept_refusals(self, user, membership, approval_state(self))
        elif action in APPROVER_ACTIONS and not is_accounting_approver(
            user, self.erp_company, self.erp_kind
        ):
            refusals.append(Refusal(RefusalKind.PERMISSION, approver_required(self.erp_kind_label)))
        return Decision(action=action, refusals=tuple(refusals))

    def _unsupported_message(self) -> str:
        adapter = adapter_class_for(self.erp_company)
        return (
            f"The company's ERP integration ({adapter.label}) does not sync {self.erp_kind_label}s."
        )

    def erp_state_refusal(self, action: ErpAction) -> str:
        """Why `action` does not fit the current state, naming who moved it there and when."""
        who, at = display_name(self.erp_changed_by), when(self.erp_changed_at)
        state = self.erp_state
        this = f"This {self.erp_kind_label}"
        if state == ErpState.PENDING:
            return f"{this} was already sent to ERP by {who} at {at}; it waits for an approver."
        if state == ErpState.PARTIALLY_APPROVED:
            return (
                f"{this} was sent to ERP and approved by {who} at {at}; it waits for another "
                "approver."
            )
        if state == ErpState.ACCEPTED:
            who, at = display_name(self.erp_accepted_by), when(self.erp_accepted_at)
            if self.erp_pulled:
                return (
                    f"{this} was already accepted by {who} at {at}; it waits for the company's "
                    "connector to take it into the ERP."
                )
            return f"{this} was already accepted by {who} at {at} and is being exported."
        if state == ErpState.REJECTED:
            if action == ErpAction.SEND:
                return f"{this} was rejected by {who} at {at}: use Resend to ERP."
            return f"{this} was already rejected by {who} at {at}."
        if state == ErpState.RETRIEVED:
            if action == ErpAction.RESEND:
                return f"{this} was retrieved by {who} at {at}: use Send to ERP."
            return f"{this} was already retrieved from ERP by {who} at {at}."
        if state == ErpState.SYNCED:
            return f"{this} is already synced with the ERP (ERP id {self.erp_id})."
        if state == ErpState.EXPORT_FAILED:
            return (
                f"{this}'s export to the ERP failed at {at}: an approver must retry or reject it."
            )
        if action == ErpAction.RESEND:
            return f"{this} has never been sent to ERP: use Send to ERP."
        return f"{this} has not been sent to ERP."

    # ----- locking and display ---------------------------------------------------------------

    @property
    def erp_pulled(self) -> bool:
        """The company's own connector pulls its accepted items (Capability.PULL): they wait
        for it rather than being exported by erpsync."""
        return pulls(self.erp_company)

    @property
    def erp_locked(self) -> bool:
        return self.erp_state not in EDITABLE_STATES

    def erp_lock_reason(self, user: AnyUser | None = None) -> str | None:
        """Why the item's fields cannot be edited now, or None when they can. Told to `user`,
        the way out names what they can do: only a sender can retrieve."""
        state = self.erp_state
        if state in AWAITING_APPROVAL:
            sent = f"Sent to ERP at {when(self.erp_sent_at)} by {display_name(self.erp_sent_by)}"
            if user is None or self.erp_sender_may(user):
                return f"{sent}: retrieve it to edit."
            waits = (
                "it waits for another approval"
                if state == ErpState.PARTIALLY_APPROVED
                else "it waits for an accounting approver"
            )
            return (
                f"{sent}: {waits}. It can be edited again once its sender retrieves it or an "
                "approver rejects it."
            )
        if state == ErpState.ACCEPTED:
            accepted = (
                f"Accepted by {display_name(self.erp_accepted_by)} at {when(self.erp_accepted_at)}"
            )
            if self.erp_pulled:
                return (
                    f"{accepted} and waiting for the company's connector to take it into the "
                    "ERP: it can no longer be edited."
                )
            return f"{accepted} and being exported to the ERP: it can no longer be edited."
        if state == ErpState.SYNCED:
            synced = f"Synced with the ERP (ERP id {self.erp_id})"
            if not self.erp_updatable_fields:
                return f"{synced}: it can no longer be edited. {self.erp_not_updatable()}".strip()
            adapter = adapter_class_for(self.erp_company)
            if not adapter.can_update(self.erp_kind):
                return f"{synced}: it can no longer be edited. {adapter.cannot(Capability.UPDATE)}"
            fields = " and ".join(self.erp_updatable_fields)
            return (
                f"{synced}: changing its {fields} creates an update request for the accounting "
                "approvers; nothing else can be edited."
            )
        if state == ErpState.EXPORT_FAILED:
            return (
                "Its export to the ERP failed: an accounting approver must reject it "
                "before it can be edited."
            )
        return None

    def erp_assert_editable(self) -> None:
        reason = self.erp_lock_reason()
        if reason is not None:
            raise ItemLocked(reason)

    @property
    def erp_icon(self) -> Icon | None:
        return ICONS.get(self.erp_state)
