"""The webhook settings forms: only the shape of the input; the services validate it again."""

from __future__ import annotations

from typing import Any

from django import forms

from erpsync.forms import FullInput
from webhooks.models import URL_LIMIT, EventType, WebhookSubscription
from webhooks.services import NO_EVENTS


class SubscriptionForm(FullInput, forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=URL_LIMIT,
        help_text="Where each event is POSTed: http:// or https://.",
        widget=forms.TextInput(
            attrs={"inputmode": "url", "autocomplete": "url", "placeholder": "https://"}
        ),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": NO_EVENTS},
    )

    def __init__(
        self, *args: Any, subscription: WebhookSubscription | None = None, **kwargs: Any
    ) -> None:
        if subscription is not None:
            kwargs.setdefault("initial", {"url": subscription.url, "events": subscription.events})
        super().__init__(*args, **kwargs)
        self.fields["events"].help_text = "Each is POSTed when an item of any kind gets there."

    def service_kwargs(self) -> dict[str, Any]:
        return {"url": self.cleaned_data["url"], "events": self.cleaned_data["events"]}
