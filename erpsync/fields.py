"""Model fields whose form fields refuse what the database or the arithmetic cannot take."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


class FiniteDecimalFormField(forms.DecimalField):
    """Django's DecimalField reads "NaN", "sNaN" and "Infinity" as Decimals and refuses them
    only in validate(); has_changed() compares them first, and a signalling NaN raises there
    (a 500). Refuse them while reading, as "Enter a number."."""

    def to_python(self, value: Any) -> Decimal | None:
        number = super().to_python(value)
        if number is not None and not number.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class DecimalField(models.DecimalField):
    """models.DecimalField whose forms (pages, the admin, inlines) use FiniteDecimalFormField."""

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": FiniteDecimalFormField, **kwargs})

    def deconstruct(self) -> Any:
        # Stored exactly as models.DecimalField: migrations see no change.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs
