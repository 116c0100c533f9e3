"""The adapter registry: settings.ERP_ADAPTERS maps a key to a dotted path, imported lazily."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from erpsync.adapters.base import (
    Adapter,
    Capability,
    ErpDraft,
    ErpError,
    ErpPayment,
    ErpRecord,
    ErpStatus,
    ExportRequest,
    ExportResults,
    IdempotencyKey,
    PermanentErpError,
    SettingField,
    SettingKind,
    TransientErpError,
    UnlinkOutcome,
    UnlinkStatus,
    UnsupportedCapability,
)

if TYPE_CHECKING:
    from projects.models import Company

__all__ = [
    "Adapter",
    "Capability",
    "ErpDraft",
    "ErpError",
    "ErpPayment",
    "ErpRecord",
    "ErpStatus",
    "ExportRequest",
    "ExportResults",
    "IdempotencyKey",
    "PermanentErpError",
    "SettingField",
    "SettingKind",
    "TransientErpError",
    "UnlinkOutcome",
    "UnlinkStatus",
    "UnsupportedCapability",
    "adapter_choices",
    "adapter_class",
    "adapter_class_for",
    "adapter_for",
    "pull_adapter_keys",
    "pulls",
]


@cache
def _load(path: str) -> type[Adapter]:
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ImproperlyConfigured(f"{path} is not an erpsync Adapter.")
    return cls


def adapter_class(key: str) -> type[Adapter]:
    try:
        path = settings.ERP_ADAPTERS[key]
    except KeyError:
        raise ImproperlyConfigured(
            f"Unknown ERP adapter {key!r}: choose one of {sorted(settings.ERP_ADAPTERS)}."
        ) from None
    return _load(path)


def adapter_class_for(company: Company) -> type[Adapter]:
    return adapter_class(company.erp_adapter)


def adapter_for(company: Company) -> Adapter:
    return adapter_class_for(company)(company=company, settings=company.erp_settings)


def adapter_choices() -> list[tuple[str, str]]:
    return [(key, adapter_class(key).label) for key in settings.ERP_ADAPTERS]


def pull_adapter_keys() -> list[str]:
    """The adapters through which the company's own connector pulls its items (Capability.PULL):
    erpsync never pushes to them."""
    return [key for key in settings.ERP_ADAPTERS if adapter_class(key).can(Capability.PULL)]


def pulls(company: Company) -> bool:
    """The company's accepted items wait for its connector instead of the export worker."""
    return company.erp_adapter in pull_adapter_keys()
