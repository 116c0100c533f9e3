"""The API's shapes, for the schema; api.representations builds the items' JSON itself."""

from __future__ import annotations

from rest_framework import serializers

from erpsync.states import ErpState

MAX_VERSION = 2**31 - 1


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
    approvals = ApprovalsSerializer()
    snapshot = serializers.JSONField(
        allow_null=True, help_text="Exactly what was submitted for the current version."
    )


class ItemDetailSerializer(ItemSerializer):
    history = HistorySerializer(many=True)


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
