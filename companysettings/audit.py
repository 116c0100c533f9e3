"""The company audit log: every audit row (ErpEvent) of a company, newest first.

Items' transitions and edits sit beside the company settings changes (rows on the Company or
a CompanyMembership, written by companysettings.services). The filters are a django-filter
FilterSet read from the URL, so a filtered view is a bookmark. Pages are keyset-paginated on
(created_at, id), newest first, using the index on (company, created_at): a page costs the
same few queries and the same time on the 100,000th row as on the first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst

from erpsync.kinds import erp_item_models
from erpsync.models import ErpEvent, ErpItem
from erpsync.states import ErpAction, ErpState
from projects.models import Company, CompanyMembership, ProjectMembership
from projects.permissions import administers_erp_tool
from projects.terms import TERMS, term

PAGE_SIZE = 50
COMPANY_KIND = "company"
DIRECTORY_KIND = "directory"
SYSTEM_USER = "system"
FIELD_LABELS = {
    "pov_dictionary": "Point-of-view dictionary",
    "erp_adapter": "ERP adapter",
    "erp_tool_level": "ERP Integrations tool",
    "can_push_to_accounting": "Can push to accounting",
    "erp_digest_subscribed": "Subscribe to ERP digest emails",
    "export_rights": "Can export",
    "block_self_approval": "Block self-approval",
    "remind_after_days": "Remind after (business days)",
    "escalate_after_days": "Escalate after (business days)",
    "approval_rule": "Approval rule",
    "out_of_office": "Out of office",
    "webhook": "Webhook",
    "webhook_url": "Webhook URL",
    "webhook_events": "Webhook events",
    "webhook_active": "Webhook",
    "webhook_secret": "Webhook secret",
    "webhook_previous_secret": "Webhook previous secret",
}
_ITEM = re.compile(r"[a-z][a-z0-9_]{0,39}:[0-9]{1,18}")
_CURSOR = re.compile(r"([0-9]{1,20})\.([0-9]{1,18})")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ----- kinds of audited object -------------------------------------------------------------


def kind_label(model: type[ErpItem], company: Company) -> str:
    """A kind's singular name in the company's dictionary ('Funding Invoice', 'Sub job')."""
    if model.erp_kind in TERMS:
        return term(company, model.erp_kind)
    return capfirst(model.erp_kind_label)


def kind_choices(company: Company) -> list[tuple[str, str]]:
    return [
        *((m.erp_kind, m.erp_tab_label(company)) for m in erp_item_models()),
        (COMPANY_KIND, "Company settings"),
        (DIRECTORY_KIND, "Directory"),
    ]


def _content_type(kind: str) -> ContentType | None:
    if kind == COMPANY_KIND:
        return ContentType.objects.get_for_model(Company)
    if kind == DIRECTORY_KIND:
        return ContentType.objects.get_for_model(CompanyMembership)
    for model in erp_item_models():
        if model.erp_kind == kind:
            return ContentType.objects.get_for_model(model)
    return None


# ----- the filters --------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class AuditFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data


class AuditFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label="Item kind", method="filter_kind", empty_label="Any")
    q = django_filters.CharFilter(label="Item code or number", method="filter_text", max_length=100)
    item = django_filters.CharFilter(
        label="Item",
        method="filter_item",
        widget=forms.HiddenInput,
        validators=[
            RegexValidator(
                rf"\A{_ITEM.pattern}\Z",
                "This item link is damaged: choose the item again from the log.",
            )
        ],
    )
    user = django_filters.ChoiceFilter(label="User", method="filter_user", empty_label="Anyone")
    action = django_filters.ChoiceFilter(
        label="Action", choices=ErpAction.choices, empty_label="Any"
    )
    since = django_filters.DateFilter(
        label="From", method="filter_since", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        label="To", method="filter_until", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = ErpEvent
        fields = ["kind", "q", "item", "user", "action", "since", "until"]
        form = AuditFilterForm

    def __init__(self, data: Any = None, *, company: Company) -> None:
        self.company = company
        super().__init__(data, queryset=ErpEvent.objects.filter(company=company))
        self.filters["kind"].extra["choices"] = kind_choices(company)
        self.filters["user"].extra["choices"] = self._user_choices()

    def _user_choices(self) -> list[tuple[str, str]]:
        users = get_user_model().objects.filter(company_memberships__company=self.company)
        return [
            *(
                (str(u.pk), u.get_full_name() or u.get_username())
                for u in users.order_by("last_name", "first_name", "username")
            ),
            (SYSTEM_USER, "erpsync (or a deleted user)"),
        ]

    def filter_kind(self, rows: QuerySet[ErpEvent], name: str, value: str) -> QuerySet[ErpEvent]:
        content_type = _content_type(value)
        return rows.filter(content_type=content_type) if content_type else rows.none()

    def filter_text(self, rows: QuerySet[ErpEvent], name: str, value: str) -> QuerySet[ErpEvent]:
        value = value.strip()
        if not value:
            return rows
        match = Q(
            content_type=ContentType.objects.get_for_model(CompanyMembership),
            details__member__icontains=value,
        )
        for model in erp_item_models():
            fields = Q()
            for field in model.erp_search_fields:
                fields |= Q(**{f"{field}__icontains": value})
            if fields:
                found = model.objects.for_company(self.company).filter(fields).values("pk")
                match |= Q(
                    content_type=ContentType.objects.get_for_model(model), object_id__in=found
                )
        return rows.filter(match)

    def filter_item(self, rows: QuerySet[ErpEvent], name: str, value: str) -> QuerySet[ErpEvent]:
        kind, _, pk = value.partition(":")
        content_type = _content_type(kind)
        if content_type is None:
            return rows.none()
        return rows.filter(content_type=content_type, object_id=int(pk))

    def filter_user(self, rows: QuerySet[ErpEvent], name: str, value: str) -> QuerySet[ErpEvent]:
        if value == SYSTEM_USER:
            return rows.filter(actor__isnull=True)
        return rows.filter(actor_id=int(value))

    def filter_since(self, rows: QuerySet[ErpEvent], name: str, value: Any) -> QuerySet[ErpEvent]:
        return rows.filter(created_at__gte=_day_start(value))

    def filter_until(self, rows: QuerySet[ErpEvent], name: str, value: Any) -> QuerySet[ErpEvent]:
        return rows.filter(created_at__lt=_day_start(value + dt.timedelta(days=1)))


# ----- keyset pagination --------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A place in the log: (created_at, id) of a row, written '<microseconds>.<id>'."""

    at: dt.datetime
    pk: int

    def __str__(self) -> str:
        return f"{(self.at - _EPOCH) // dt.timedelta(microseconds=1)}.{self.pk}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """None for no cursor; ValueError for one that is not a place in the log."""
        if text is None or text == "":
            return None
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise ValueError("This page link is damaged: start again from the newest rows.")
        try:
            at = _EPOCH + dt.timedelta(microseconds=int(match[1]))
        except OverflowError:
            raise ValueError(
                "This page link is damaged: start again from the newest rows."
            ) from None
        return cls(at, int(match[2]))

    @classmethod
    def of(cls, event: ErpEvent) -> Cursor:
        return cls(event.created_at, event.pk)


@dataclass
class AuditPage:
    rows: list[AuditRow]
    newer: Cursor | None  # the `before` of the previous (newer) page
    older: Cursor | None  # the `after` of the next (older) page
    is_first: bool


def with_items(rows: QuerySet[ErpEvent]) -> QuerySet[ErpEvent]:
    """The rows with their actor and audited object (one query per kind of object)."""
    return rows.select_related("actor", "content_type").prefetch_related(
        GenericPrefetch(
            "item",
            [
                *(m.objects.select_related(*m.erp_related) for m in erp_item_models()),
                CompanyMembership.objects.select_related("user"),
                Company.objects.all(),
            ],
        )
    )


def audit_page(
    rows: QuerySet[ErpEvent],
    viewer: CompanyMembership,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """`size` rows older than `after` (or newer than `before`; else the newest), newest first."""
    rows = with_items(rows)
    if before is not None:
        newer = list(
            rows.filter(created_at__gte=before.at)
            .filter(Q(created_at__gt=before.at) | Q(pk__gt=before.pk))
            .order_by("created_at", "pk")[: size + 1]
        )
        if len(newer) > size:
            events = newer[:size][::-1]
            return _page(events, viewer, has_newer=True, has_older=True)
        # Back at the top: show the newest page as it is.
        after = None
    if after is not None:
        rows = rows.filter(created_at__lte=after.at).filter(
            Q(created_at__lt=after.at) | Q(pk__lt=after.pk)
        )
    events = list(rows.order_by("-created_at", "-pk")[: size + 1])
    return _page(events[:size], viewer, has_newer=after is not None, has_older=len(events) > size)


def _page(
    events: list[ErpEvent], viewer: CompanyMembership, *, has_newer: bool, has_older: bool
) -> AuditPage:
    links = LinkRules.for_viewer(viewer)
    return AuditPage(
        rows=[audit_row(e, viewer.company, links) for e in events],
        newer=Cursor.of(events[0]) if events and has_newer else None,
        older=Cursor.of(events[-1]) if events and has_older else None,
        is_first=not has_newer,
    )


# ----- one row ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkRules:
    """Where the viewer may follow a row's item: the approvers' preview of a sent item (every
    auditor is on the ERP tool), a never-sent item's own page on the viewer's projects, the
    settings pages for an ERP tool Admin."""

    company: Company
    admin: bool
    project_ids: frozenset[int]

    @classmethod
    def for_viewer(cls, viewer: CompanyMembership | None) -> LinkRules | None:
        if viewer is None:
            return None
        projects = ProjectMembership.objects.filter(
            user_id=viewer.user_id, project__company_id=viewer.company_id
        ).values_list("project_id", flat=True)
        return cls(viewer.company, administers_erp_tool(viewer), frozenset(projects))

    def url(self, obj: Any) -> str | None:
        slug = self.company.slug
        if isinstance(obj, ErpItem):
            if obj.erp_version:
                return reverse("erp_item", args=[slug, obj.erp_kind, obj.pk])
            return obj.get_absolute_url() if obj.erp_project.pk in self.project_ids else None
        if isinstance(obj, Company) and self.admin:
            return reverse("settings_dictionary", args=[slug])
        if isinstance(obj, CompanyMembership) and self.admin:
            return reverse("settings_member_history", args=[slug, obj.pk])
        return None


def change_label(name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    if name.startswith("erp_settings."):
        return f"ERP setting {name.removeprefix('erp_settings.')}"
    if name.startswith("direct_export."):
        kind = name.removeprefix("direct_export.")
        labels = {m.erp_kind: m.erp_kind_label for m in erp_item_models()}
        return f"Direct Export of {labels.get(kind, kind.replace('_', ' '))}s"
    return name.replace("_", " ")


@dataclass(frozen=True)
class AuditRow:
    event: ErpEvent
    kind: str
    item: str
    item_filter: str | None
    url: str | None
    changes: list[tuple[str, str, str]]

    @property
    def show_kind(self) -> bool:
        """An item's name already says its kind ('Funding Invoice INV-007')."""
        return not self.item.lower().startswith(self.kind.lower())

    @property
    def action(self) -> str:
        return ACTION_LABELS.get(self.event.action, self.event.action)

    @property
    def changes_text(self) -> str:
        return "; ".join(
            f"{label}: {old or '—'} → {new or '—'}" for label, old, new in self.changes
        )

    @property
    def from_state(self) -> str:
        return _state(self.event.from_state)

    @property
    def to_state(self) -> str:
        return _state(self.event.to_state)


STATE_LABELS = dict(ErpState.choices)
ACTION_LABELS = dict(ErpAction.choices)


def _state(value: str) -> str:
    return STATE_LABELS.get(value, value)


def audit_row(event: ErpEvent, company: Company, links: LinkRules | None) -> AuditRow:
    obj = event.item
    model = event.content_type.model_class()
    item_filter = None
    if model is not None and issubclass(model, ErpItem):
        kind = kind_label(model, company)
        item_filter = f"{model.erp_kind}:{event.object_id}"
        item = capfirst(obj.erp_name_in(company)) if obj is not None else f"{kind} (deleted)"
    elif model is CompanyMembership:
        kind, item_filter = "Directory", f"{DIRECTORY_KIND}:{event.object_id}"
        member = (event.details or {}).get("member", "")
        if obj is not None:
            user = obj.user
            item = f"{user.get_full_name() or user.get_username()} ({user.get_username()})"
        else:
            item = f"{member} (no longer a member)" if member else "a former member"
    elif model is Company:
        kind, item, item_filter = "Company settings", company.name, f"{COMPANY_KIND}:{company.pk}"
    else:
        kind, item = event.content_type.name, str(obj) if obj is not None else "(deleted)"
    changes = [
        (change_label(name), str(pair[0]), str(pair[1]))
        for name, pair in ((event.details or {}).get("changes") or {}).items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]
    return AuditRow(
        event=event,
        kind=kind,
        item=item,
        item_filter=item_filter,
        url=links.url(obj) if links is not None and obj is not None else None,
        changes=changes,
    )


def member_history(membership: CompanyMembership) -> list[AuditRow]:
    """Every change of one member's flags, newest first."""
    events = with_items(
        ErpEvent.objects.filter(
            company_id=membership.company_id,
            content_type=ContentType.objects.get_for_model(CompanyMembership),
            object_id=membership.pk,
        )
    )
    return [audit_row(e, membership.company, None) for e in events.order_by("-created_at", "-pk")]
