"""Media in history rows: objects to JSON references when logged, and back when read.

``log()`` calls :func:`store_row_media` only for rows that left its scalar fast path. The read
API calls :func:`media_from_row` on rows and summaries: a value is a media reference when it is
a dict whose ``_type`` is one of :data:`MEDIA_JSON_TYPES` (logged dicts are always flattened,
so no other dict reaches history).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiseki.errors import ValueTypeError
from kiseki.media.base import BlobReader, BlobWriter, is_media
from kiseki.media.histogram import HISTOGRAM_JSON_TYPE, Histogram
from kiseki.media.image import IMAGE_JSON_TYPE, Image
from kiseki.media.table import TABLE_FILE_JSON_TYPE, TABLE_JSON_TYPE, Table

IMAGES_JSON_TYPE = "images"
"""A list of images logged under one key: ``{"_type": "images", "count", "images": [...]}``."""
MEDIA_JSON_TYPES = frozenset(
    {IMAGE_JSON_TYPE, IMAGES_JSON_TYPE, HISTOGRAM_JSON_TYPE, TABLE_JSON_TYPE, TABLE_FILE_JSON_TYPE}
)


def store_row_media(row: dict[str, Any], blobs: BlobWriter | None) -> list[str]:
    """Replace the media objects of ``row`` (in place) by their JSON references, writing their
    bytes to ``blobs``; return the digests of the blobs they refer to (maybe empty)."""
    digests: list[str] = []
    for key, value in row.items():
        if is_media(value):
            row[key] = value.to_json(blobs, digests)
        elif type(value) is list and value:
            if any(is_media(item) for item in value):
                row[key] = _image_list(key, value, blobs, digests)
            else:
                _refuse_nested_media(key, value)
    return digests


def _image_list(
    key: str, items: list[Any], blobs: BlobWriter | None, digests: list[str]
) -> dict[str, Any]:
    for i, item in enumerate(items):
        if not isinstance(item, Image):
            raise ValueTypeError(
                f"Cannot log {key!r}: a list of media may hold only kiseki.Image objects, but "
                f"item {i} is a {type(item).__name__}. Log other media under their own keys."
            )
    return {
        "_type": IMAGES_JSON_TYPE,
        "count": len(items),
        "images": [item.to_json(blobs, digests) for item in items],
    }


def _refuse_nested_media(key: str, items: list[Any]) -> None:
    for i, item in enumerate(items):
        if type(item) is list:
            if any(is_media(inner) for inner in item):
                raise ValueTypeError(
                    f"Cannot log {key}[{i}]: media inside nested lists cannot be recorded; log "
                    "a flat list of kiseki.Image objects, or each medium under its own key."
                )
            _refuse_nested_media(f"{key}[{i}]", item)


def row_has_media(row: Mapping[str, Any]) -> bool:
    """Whether any value of ``row`` (or an item of a list value, at any depth) is a media
    object."""
    return any(_contains_media(value) for value in row.values())


def _contains_media(value: Any) -> bool:
    if type(value) is list:
        return any(_contains_media(item) for item in value)
    return is_media(value)


def media_from_value(value: Any, reader: BlobReader | None) -> Any:
    """The media object a history value refers to, or ``value`` itself when it is no
    reference."""
    if type(value) is not dict:
        return value
    kind = value.get("_type")
    if kind == IMAGE_JSON_TYPE:
        return Image.from_json(value, reader)
    if kind == HISTOGRAM_JSON_TYPE:
        return Histogram.from_json(value)
    if kind in (TABLE_JSON_TYPE, TABLE_FILE_JSON_TYPE):
        return Table.from_json(value, reader)
    if kind == IMAGES_JSON_TYPE:
        return [Image.from_json(item, reader) for item in value.get("images") or []]
    return value


def media_from_row(row: dict[str, Any], reader: BlobReader | None) -> dict[str, Any]:
    """``row`` with media references turned into objects (in place; returned for chaining)."""
    for key, value in row.items():
        if type(value) is dict and value.get("_type") in MEDIA_JSON_TYPES:
            row[key] = media_from_value(value, reader)
    return row


def media_to_references(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` (a summary read back) with media objects turned back into the
    references they were read from; media that were not read from a store are refused."""
    result: dict[str, Any] = {}
    for key, value in values.items():
        if is_media(value):
            result[key] = _reference_of(key, value)
        elif type(value) is list and value and all(isinstance(v, Image) for v in value):
            images = [_reference_of(key, v) for v in value]
            result[key] = {"_type": IMAGES_JSON_TYPE, "count": len(images), "images": images}
        else:
            result[key] = value
    return result


def _reference_of(key: str, value: Any) -> dict[str, Any]:
    reference = getattr(value, "_reference", None)
    if reference is None:
        raise ValueTypeError(
            f"Summary key {key!r} holds a new {type(value).__name__}: media can be added to a "
            "summary only by logging them from a run (run.log or run.summary in the SDK)."
        )
    return dict(reference)


def describe_reference(value: Any) -> str | None:
    """A short text for a media reference (``"image 28x28: a cat"``), or ``None`` when
    ``value`` is not one; the web app shows it where the summary lists values."""
    if type(value) is not dict or value.get("_type") not in MEDIA_JSON_TYPES:
        return None
    kind = value["_type"]
    if kind == IMAGE_JSON_TYPE:
        text = f"image {value.get('width')}x{value.get('height')}"
        return f"{text}: {value['caption']}" if value.get("caption") else text
    if kind == IMAGES_JSON_TYPE:
        return f"{value.get('count', 0)} images"
    if kind == HISTOGRAM_JSON_TYPE:
        return f"histogram, {len(value.get('values') or [])} bins"
    return f"table, {value.get('nrows', 0)} rows x {value.get('ncols', 0)} columns"


def described_media(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a summary) with each media reference replaced by its short text."""
    return {key: describe_reference(value) or value for key, value in values.items()}
