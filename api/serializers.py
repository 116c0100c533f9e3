"""The API's shapes, for the schema; api.representations builds the items' JSON itself."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from erpsync.models import UpdateState
from erpsync.services import REASON_MAX
from erpsync.states import ErpAction, ErpState
from invoicing.models import InvoiceStatus
from subjobs.models import SUB_JOB_CODE_MAX, SUB_JOB_NAME_MAX, SubJobStatus

MAX_VERSION = 2**31 - 1
# A bulk decision's items: a month-end batch, in one request that still answers in seconds.
MAX_BULK = 500


def read_body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The request's body as `serializer_class` validates it; refused, a 422 naming each field
    (api.problems)."""
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="null: the account was deleted.")
    name = serializers.CharField()


class ProjectRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    name = serializers.CharField()


class ApprovalsSerializer(serializers.Serializer):
    given = serializers.IntegerField(help_text="Approvals of the current version so far.")
    needed = serializers.IntegerField(help_text="Approvals the company's policy asks for.")
    approvers = PersonSerializer(many=True)


class HistorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    label = serializers.CharField()
    from_state = serializers.CharField(allow_null=True)
    to_state = serializers.CharField(allow_null=True)
    actor = PersonSerializer()
    at = serializers.DateTimeField()
    version = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class ItemSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(help_text="This item in the API.")
    page_url = serializers.CharField(help_text="This item's page in the web app.")
    company = serializers.CharField()
    project = ProjectRefSerializer()
    state = serializers.ChoiceField(choices=ErpState.choices)
    state_label = serializers.CharField()
    version = serializers.IntegerField(help_text="The submitted version (0: never sent).")
    erp_id = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    rejection_reason = serializers.CharField(allow_null=True)
    export_attempts = serializers.IntegerField()
    sent = PersonSerializer(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    accepted = PersonSerializer(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    changed = PersonSerializer(allow_null=True)
    changed_at = serializers.DateTimeField(allow_null=True)
    unlinked_erp_id = serializers.CharField(
        allow_null=True, help_text="The ERP id it had when last unlinked from the ERP."
    )
    unlinked_at = serializers.DateTimeField(allow_null=True)
    still_in_erp = serializers.CharField(
        allow_null=True,
        help_text="Why the last Unlink was refused: the ERP keeps the record (synced items).",
    )
    approvals = ApprovalsSerializer()
    snapshot = serializers.JSONField(
        allow_null=True, help_text="Exactly what was submitted for the current version."
    )


class RequestedChangeSerializer(serializers.Serializer):
    erp = serializers.CharField(help_text="The value the ERP has.")
    requested = serializers.CharField(help_text="The value asked for.")


class UpdateRequestSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1 for the item's first update, and so on.")
    # Text, not an enum: a second enum named "state" beside the item's would need renaming.
    state = serializers.CharField(
        help_text="One of: "
        + ", ".join(f"`{value}` ({label})" for value, label in UpdateState.choices)
    )
    state_label = serializers.CharField()
    changes = serializers.DictField(child=RequestedChangeSerializer(), help_text="By field name.")
    idempotency_key = serializers.CharField(
        help_text="What the update is sent to the ERP as: the synced version's key + :u<n>."
    )
    requested_by = PersonSerializer(allow_null=True)
    requested_at = serializers.DateTimeField()
    decided_by = PersonSerializer(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_null=True, help_text="Why it was rejected.")
    error = serializers.CharField(allow_null=True, help_text="The ERP's words, if it failed.")


class ItemDetailSerializer(ItemSerializer):
    history = HistorySerializer(many=True)
    update_request = UpdateRequestSerializer(
        allow_null=True,
        help_text="The newest change asked for since the item was synced (Ready to Update): "
        "a synced sub job's PATCH of its name makes one.",
    )


class AcceptSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The version you reviewed: a newer one is refused with 409.",
    )


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "Why: required to reject a pending item (the sender is emailed it and must fix "
            "the item); optional to reject a failed export."
        ),
    )


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    reasons = serializers.ListField(child=serializers.CharField(), required=False)
    state = serializers.CharField(required=False)
    version = serializers.IntegerField(required=False)
    acted_by = serializers.CharField(required=False, allow_null=True)
    acted_at = serializers.DateTimeField(required=False, allow_null=True)


# ----- sub jobs, invoices, projects, bulk decisions and the audit log ----------------------

MAX_ID = 2**63 - 1


class StrictSerializer(serializers.Serializer):
    """A request body whose unknown fields are refused (422), not silently ignored: a typo in
    an integration must not pass for a change that was made."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, dict):
            unknown = sorted(set(initial) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field: it cannot be set here."] for name in unknown}
                )
        return attrs


class SubJobFieldsSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The Sub Job ID, unique in the project (any case).")
    name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=SubJobStatus.choices, help_text="Approved before it can be sent to ERP."
    )
    status_label = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SubJobDetailSerializer(ItemDetailSerializer):
    sub_job = SubJobFieldsSerializer(help_text="The sub job as it is now.")


class SubJobCreateSerializer(StrictSerializer):
    code = serializers.CharField(max_length=SUB_JOB_CODE_MAX, help_text="The Sub Job ID.")
    name = serializers.CharField(max_length=SUB_JOB_NAME_MAX)


class SubJobUpdateSerializer(StrictSerializer):
    code = serializers.CharField(
        max_length=SUB_JOB_CODE_MAX, required=False, allow_blank=True, help_text="The Sub Job ID."
    )
    name = serializers.CharField(max_length=SUB_JOB_NAME_MAX, required=False, allow_blank=True)
    seen_event = serializers.IntegerField(
        min_value=0,
        max_value=MAX_ID,
        required=False,
        help_text=(
            "Optional: the id of the newest `history` entry you read (or send the detail's "
            "`ETag` as `If-Match`). If the sub job changed since, the edit is refused with "
            "409 (412 with If-Match) and what changed, instead of overwriting it."
        ),
    )


class MoneyField(serializers.CharField):
    """A Decimal amount as a string with its cents ("1234.50")."""


class ContractRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    owner_client = serializers.CharField()
    status = serializers.CharField()


class BillingPeriodSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    due_date = serializers.DateField()


class InvoiceLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    description = serializers.CharField()
    scheduled_value = MoneyField()
    work_completed_this_period = MoneyField()
    materials_stored = MoneyField()
    retainage_percent = serializers.CharField(help_text='A percentage, e.g. "10.00".')
    retainage_amount = MoneyField()
    amount_due = MoneyField()


class InvoiceTotalsSerializer(serializers.Serializer):
    scheduled_value = MoneyField()
    work_completed_this_period = MoneyField()
    materials_stored = MoneyField()
    retainage = MoneyField()
    amount_due = MoneyField()


class InvoiceFieldsSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=InvoiceStatus.choices)
    status_label = serializers.CharField()
    prime_contract = ContractRefSerializer()
    billing_period = BillingPeriodSerializer(allow_null=True)
    lines = InvoiceLineSerializer(many=True)
    totals = InvoiceTotalsSerializer()
    amount_due = MoneyField(help_text="The lines' amounts due, summed.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OwnerInvoiceDetailSerializer(ItemDetailSerializer):
    invoice = InvoiceFieldsSerializer(
        help_text="The invoice as it is now; `snapshot` is what was submitted for approval."
    )


class ProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    name = serializers.CharField()
    erp_synced = serializers.BooleanField()
    erp_job_id = serializers.CharField(allow_null=True)
    member = serializers.BooleanField(help_text="You are a member of the project.")
    manages_sub_jobs = serializers.BooleanField(
        help_text="You may create, edit, approve and send its sub jobs."
    )
    manages_owner_invoices = serializers.BooleanField(
        help_text="You may edit and send its owner invoices."
    )


class BulkItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_VERSION, required=False, help_text="Not needed here."
    )


class BulkAcceptItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The version you reviewed: a newer one is skipped with its reason.",
    )


class BulkSerializer(StrictSerializer):
    items = BulkItemSerializer(many=True, max_length=MAX_BULK)

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not items:
            raise serializers.ValidationError("Choose at least one item.")
        seen: set[int] = set()
        for item in items:
            if item["id"] in seen:
                raise serializers.ValidationError(f"Item {item['id']} is listed twice.")
            seen.add(item["id"])
        return items


class BulkAcceptSerializer(BulkSerializer):
    items = BulkAcceptItemSerializer(many=True, max_length=MAX_BULK)


class BulkRejectSerializer(BulkSerializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=REASON_MAX,
        help_text="Why: required; every sender is emailed it.",
    )


class BulkOutcomeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    done = serializers.BooleanField()
    state = serializers.ChoiceField(
        choices=ErpState.choices, allow_null=True, help_text="null: no such item."
    )
    message = serializers.CharField(help_text="What was done, or why the item was skipped.")
    progress = serializers.CharField(
        allow_null=True, help_text="An approval of several: '1 of 2' (the item is partly approved)."
    )


class BulkResultSerializer(serializers.Serializer):
    decision = serializers.CharField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    summary = serializers.CharField()
    results = BulkOutcomeSerializer(many=True)


class EventObjectSerializer(serializers.Serializer):
    type = serializers.CharField(
        allow_null=True, help_text="An item's kind (sub_job, …), company or directory."
    )
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="The item in the API.")


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.CharField()
    new = serializers.CharField()


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    object = EventObjectSerializer()
    action = serializers.ChoiceField(choices=ErpAction.choices)
    action_label = serializers.CharField()
    from_state = serializers.CharField(allow_null=True)
    to_state = serializers.CharField(allow_null=True)
    actor = PersonSerializer()
    reason = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    changes = ChangeSerializer(many=True)
