"""What every list page shares: free-text search, sort by clickable column headings, filters
read strictly, pagination that keeps the query, and CSV downloads streamed row by row.

Built on django-filter. Each app declares its FilterSets (`<app>/filters.py`, on ListFilterSet)
and applies them in its selectors; views only pass `request.GET` and render. A filter that
cannot be read is shown at its field and the page answers 400 with no rows: a list silently
filtered by fewer conditions than the user asked for would mislead.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

PAGE_SIZE = 50
# Rows fetched per database round trip while a CSV streams: memory stays flat at any size.
CSV_CHUNK = 2000
# Bytes gathered before a CSV chunk is handed to the server (one row per write is slow).
CSV_FLUSH = 64 * 1024
SEARCH_MAX_LENGTH = 100
SEARCH_MAX_WORDS = 8
# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CENT = Decimal("0.01")
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(9998, 12, 31)
# Query parameters of a list that are not filters.
PAGE, FORMAT, SORT = "page", "format", "sort"
CSV_FORMAT = "csv"


# ----- filters ---------------------------------------------------------------------------------


class FilterForm(forms.Form):
    """The filter bar's form: ids apart from the page's other forms, cross-field checks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for low, high, message in getattr(self, "ranges", ()):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, message)
        return data


class ListFilterSet(django_filters.FilterSet):
    """A list's filters. `ranges` names (low field, high field, message) pairs to check."""

    ranges: tuple[tuple[str, str, str], ...] = ()

    class Meta:
        form = FilterForm

    def get_form_class(self) -> type[forms.Form]:
        form_class = super().get_form_class()
        form_class.ranges = [r for r in self.ranges if r[0] in self.filters]  # type: ignore[attr-defined]
        return form_class

    def drop(self, *names: str) -> None:
        """Remove filters that do not apply to this list (before the form is built)."""
        for name in names:
            self.filters.pop(name, None)


class SearchField(forms.CharField):
    """Free text whose length the server checks (a field error past SEARCH_MAX_LENGTH), with
    no maxlength for the browser to cut the text at silently."""

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


class SearchFilter(django_filters.CharFilter):
    """Free text: each word must appear, in any case, in one of `fields`."""

    field_class = SearchField

    def __init__(self, *, fields: Iterable[str] = (), **kwargs: Any) -> None:
        kwargs.setdefault("label", "Search")
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "search"}))
        super().__init__(**kwargs)
        self.fields = tuple(fields)

    def matching(self, value: str) -> Q:
        condition = Q()
        for word in (value or "").split()[:SEARCH_MAX_WORDS]:
            any_field = Q()
            for name in self.fields:
                any_field |= Q(**{f"{name}__icontains": word})
            condition &= any_field
        return condition

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        return qs.filter(self.matching(value)) if value and value.strip() else qs


class BoundedDateField(forms.DateField):
    """A day, in ISO 8601 (the date picker's) or the site's input formats, within years that
    every time zone can turn into a moment."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def to_python(self, value: Any) -> dt.date | None:
        day = super().to_python(value)
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ValidationError(
                f"Enter a date between {EARLIEST.year} and {LATEST.year}.", code="invalid"
            )
        return day


class DayFilter(django_filters.DateFilter):
    """One end of a range of days on a date-time field: `from` counts from the start of that
    day, `to` up to its end (in the site's time zone); the index on the field still serves."""

    field_class = BoundedDateField

    def __init__(self, *, end: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end = end

    def filter(self, qs: QuerySet[Any], value: dt.date | None) -> QuerySet[Any]:
        if value is None:
            return qs
        start = timezone.make_aware(dt.datetime.combine(value, dt.time.min))
        if self.end:
            return qs.filter(**{f"{self.field_name}__lt": start + dt.timedelta(days=1)})
        return qs.filter(**{f"{self.field_name}__gte": start})


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class PersonFilter(django_filters.ModelChoiceFilter):
    """A user, listed by name; the queryset is the company's people (set by the FilterSet)."""

    field_class = PersonChoiceField


class SortFilter(django_filters.ChoiceFilter):
    """`?sort=key` or `?sort=-key` among `sorts` ({key: order_by fields}); ties broken on pk,
    so pages never overlap. Without a key the list keeps its own `default` order. `lead` goes
    before any sort (e.g. the Synced list's grouping by project)."""

    def __init__(
        self,
        *,
        sorts: dict[str, tuple[str, ...]],
        default: tuple[str, ...] = ("pk",),
        **kwargs: Any,
    ) -> None:
        choices = [(k, k) for k in sorts] + [(f"-{k}", f"-{k}") for k in sorts]
        kwargs.setdefault("label", "Sort")
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": "There is no sort %(value)s here: click a column heading to sort."},
        )
        super().__init__(choices=choices, **kwargs)
        self.sorts = sorts
        self.default = default
        self.lead: tuple[str, ...] = ()

    def order(self, value: str | None) -> list[str]:
        if not value:
            return [*self.lead, *self.default]
        descending = value.startswith("-")
        fields = self.sorts[value.lstrip("-")]
        flip: Callable[[str], str] = (
            (lambda f: f[1:] if f.startswith("-") else f"-{f}") if descending else (lambda f: f)
        )
        return [*self.lead, *(flip(f) for f in fields), "-pk" if descending else "pk"]

    def filter(self, qs: QuerySet[Any], value: str | None) -> QuerySet[Any]:
        return qs.order_by(*self.order(value))


# ----- a filtered, sorted, paginated list -------------------------------------------------------


@dataclass
class Listing:
    """One page of a filtered list, and what its links need to keep the query."""

    filterset: ListFilterSet
    page: Page | None  # None when a filter could not be read
    total: int | None = None  # the unfiltered count, when the page knows it for free
    path: str = ""  # the list's own URL: its links hold even on a page another URL answered

    @property
    def form(self) -> forms.Form:
        return self.filterset.form

    @property
    def valid(self) -> bool:
        return self.page is not None

    @property
    def rows(self) -> QuerySet[Any]:
        """Every row of the filtered list in its order (for the CSV), not just this page."""
        return self.filterset.qs

    @property
    def params(self) -> QueryDict:
        """The filters as given, without blanks, page or format: what links carry."""
        params = QueryDict(mutable=True)
        for name in self.filterset.filters:
            value = self.filterset.data.get(name, "")
            if isinstance(value, str) and value.strip():
                params[name] = value
        return params

    @property
    def query(self) -> str:
        return self.params.urlencode()

    @property
    def carried(self) -> str:
        """The filters without the sort: for links to a sibling list (another ERP state)."""
        params = self.params
        params.pop(SORT, None)
        return params.urlencode()

    @property
    def sort(self) -> str:
        return self.params.get(SORT, "")

    @property
    def active(self) -> bool:
        return any(name != SORT for name in self.params)

    @property
    def more_active(self) -> bool:
        """A filter beyond the search box is set (the bar opens its Filters section)."""
        return any(name not in (SORT, "q") for name in self.params) or bool(self.form.errors)

    @property
    def csv_url(self) -> str:
        params = self.params
        params[FORMAT] = CSV_FORMAT
        return f"{self.path}?{params.urlencode()}"

    def page_url(self, number: int) -> str:
        params = self.params
        params[PAGE] = str(number)
        return f"{self.path}?{params.urlencode()}"

    def sort_url(self, key: str) -> tuple[str, str | None]:
        """The link of a column heading (ascending first, then descending) and the current
        direction of that column."""
        current = self.sort
        params = self.params
        if current == key:
            params[SORT], state = f"-{key}", "ascending"
        elif current == f"-{key}":
            params[SORT], state = key, "descending"
        else:
            params[SORT], state = key, None
        return f"{self.path}?{params.urlencode()}", state

    @property
    def error_messages(self) -> list[str]:
        """The filters' errors as sentences naming the field, for a refusal page."""
        messages = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else None
            messages += [f"{label}: {e}" if label else str(e) for e in errors]
        return messages


def build_listing(filterset: ListFilterSet, path: str, *, total: int | None = None) -> Listing:
    """Validate the filters; a valid list gets the page asked for (`?page=`). `path` is the
    list's URL."""
    if not filterset.is_valid():
        return Listing(filterset, None, total, path)
    paginator = Paginator(filterset.qs, PAGE_SIZE)
    if total is not None and not Listing(filterset, None, total, path).active:
        # Nothing narrows the list: it counts `total`, which the page has read already; a
        # second COUNT over the whole queue cost 30 ms at 100,000 items (README, Performance).
        paginator.count = total  # type: ignore[misc]  # cached_property: set once, here
    page = paginator.get_page(filterset.data.get(PAGE, 1))
    return Listing(filterset, page, total, path)


def wants_csv(data: QueryDict) -> bool:
    return data.get(FORMAT) == CSV_FORMAT


# ----- CSV ------------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    """Money as a plain decimal with 2 places, moments and days in ISO 8601, and text that a
    spreadsheet would run as a formula quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT):f}"
    if isinstance(value, dt.datetime):
        moment = timezone.localtime(value) if timezone.is_aware(value) else value
        return moment.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


class _Echo:
    """A file-like object whose write returns what it was given: csv.writer into a stream."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    chunk = [writer.writerow([csv_cell(h) for h in header])]
    size = len(chunk[0])
    for row in rows:
        line = writer.writerow([csv_cell(v) for v in row])
        chunk.append(line)
        size += len(line)
        if size >= CSV_FLUSH:
            yield "".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk)


def csv_filename(*parts: str, filtered: bool = False) -> str:
    """E.g. demo-builders-sub-jobs-ready-filtered-2026-11-23.csv (only [a-z0-9-] and a date)."""
    words = [slugify(p) for p in parts if p]
    if filtered:
        words.append("filtered")
    words.append(timezone.localdate().isoformat())
    return "-".join(w for w in words if w) + ".csv"


Column = tuple[str, Callable[[Any], Any]]


def csv_response(
    filename: str, columns: list[Column], rows: Iterable[Any]
) -> StreamingHttpResponse:
    """A CSV download streamed as it is written: `rows` should be a queryset's
    `.iterator(chunk_size=CSV_CHUNK)`, so no more than a chunk of rows is ever in memory."""
    header = [title for title, _ in columns]
    values = ([get(row) for _, get in columns] for row in rows)
    response = StreamingHttpResponse(
        csv_lines(header, values), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def attr(path: str) -> Callable[[Any], Any]:
    """A getter following `a.b.c` (None stops it), calling a method at the end (get_x_display)."""
    names = path.split(".")

    def get(obj: Any) -> Any:
        for name in names:
            if obj is None:
                return None
            obj = getattr(obj, name)
        return obj() if callable(obj) else obj

    return get
