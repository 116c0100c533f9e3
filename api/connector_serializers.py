"""The pull connector's request and answer shapes (api.views.connector), for the schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.serializers import (
    MAX_ID,
    MAX_VERSION,
    ItemSerializer,
    PersonSerializer,
    ProblemSerializer,
)
from erpsync.connector import (
    DEFAULT_LEASE_SECONDS,
    ERP_ID_MAX,
    ERROR_MAX,
    MAX_BATCH,
    MAX_LEASE_SECONDS,
    MIN_LEASE_SECONDS,
)
from erpsync.kinds import erp_item_models
from erpsync.states import ErpState


class ClaimRequestSerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_BATCH,
        default=10,
        help_text=f"How many items to claim at most (1 to {MAX_BATCH}).",
    )
    lease_seconds = serializers.IntegerField(
        min_value=MIN_LEASE_SECONDS,
        max_value=MAX_LEASE_SECONDS,
        default=DEFAULT_LEASE_SECONDS,
        help_text="How long the claim holds the items; unreported, they go back to the queue "
        "after it.",
    )


class ClaimedItemSerializer(ItemSerializer):
    idempotency_key = serializers.CharField(
        help_text="erpsync:<kind>:<id>:v<version>: store it with the ERP record and look it up "
        "before writing, so that a second write finds the first."
    )


class ClaimSerializer(serializers.Serializer):
    claim = serializers.UUIDField(
        allow_null=True, help_text="The claim's id: send it back with each report. null: empty."
    )
    claimed_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Report before this, or the items go back.")
    items = ClaimedItemSerializer(
        many=True,
        help_text="Oldest accepted first; `snapshot` is exactly the version that was accepted.",
    )


class ReportSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[])
    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_VERSION, help_text="The version claimed (and written)."
    )
    status = serializers.ChoiceField(
        choices=["synced", "failed"], help_text="What the ERP did with the item."
    )
    erp_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=ERP_ID_MAX,
        help_text="The ERP's id of the record (required when synced).",
    )
    error = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=ERROR_MAX,
        help_text="Why the ERP refused it, for the approvers (required when failed).",
    )
    claim = serializers.UUIDField(
        required=False,
        help_text="The claim the item came in. With it, a failed report yields to another "
        "connector's live claim, and repeating an already reported claim changes nothing.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [m.erp_kind for m in erp_item_models()]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == "synced" and not attrs.get("erp_id", "").strip():
            raise serializers.ValidationError(
                {"erp_id": ["A synced report needs the ERP's id of the record."]}
            )
        if attrs["status"] == "failed" and not attrs.get("error", "").strip():
            raise serializers.ValidationError(
                {"error": ["A failed report needs the ERP's words: approvers read them."]}
            )
        return attrs


class ReportResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    http_status = serializers.IntegerField(
        help_text="200 recorded (or a repeat), 404 no such item here, 409 refused by its state."
    )
    ok = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="false: a repeat or a refusal changed nothing.")
    state = serializers.ChoiceField(
        choices=ErpState.choices, allow_blank=True, help_text="The item's ERP state now."
    )
    erp_id = serializers.CharField(allow_null=True)
    detail = serializers.CharField()


class ReportsSerializer(serializers.Serializer):
    results = ReportResultSerializer(many=True)
    recorded = serializers.IntegerField(help_text="Reports recorded or repeated (ok).")
    refused = serializers.IntegerField()


class ReportsProblemSerializer(ProblemSerializer):
    """Some reports were refused; every result is listed, and the others are recorded."""

    results = ReportResultSerializer(many=True, required=False)
    recorded = serializers.IntegerField(required=False)
    refused = serializers.IntegerField(required=False)


class QueueClaimSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    claimed_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    claimed_by = PersonSerializer()


class QueueItemSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()
    version = serializers.IntegerField()
    idempotency_key = serializers.CharField()
    accepted_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was accepted (or its export retried)."
    )
    claim = QueueClaimSerializer(allow_null=True, help_text="The live claim on it, if any.")


class QueueSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="Accepted and not claimed.")
    claimed = serializers.IntegerField(help_text="Held by a live claim.")
    oldest_accepted_at = serializers.DateTimeField(allow_null=True)
    items = QueueItemSerializer(many=True, help_text="The oldest 100, claimed or not.")
