"""``kiseki.Table``: rows and named columns logged with ``log()``; cells may hold images."""

from __future__ import annotations

from typing import Any

from kiseki import jsoncodec
from kiseki.errors import UsageError, ValueTypeError
from kiseki.media.base import BlobReader, BlobWriter, Media, is_media
from kiseki.media.image import IMAGE_JSON_TYPE, Image

TABLE_JSON_TYPE = "table"
TABLE_FILE_JSON_TYPE = "table-file"
INLINE_TABLE_BYTES = 16 * 1024
"""Tables whose JSON is larger than this are stored as a blob, not inline in history."""


class Table(Media):
    """A table of rows under named ``columns``; cells hold numbers, strings, booleans,
    ``None`` or :class:`kiseki.Image` objects.

    >>> table = Table(columns=["id", "label"], data=[[1, "cat"], [2, "dog"]])
    >>> table.add_data(3, "bird")
    >>> len(table.data)
    3

    ``Table(dataframe=df)`` takes a pandas DataFrame; :meth:`get_dataframe` gives one back.
    """

    json_type = TABLE_JSON_TYPE

    def __init__(
        self,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
    ) -> None:
        if dataframe is not None:
            if data is not None:
                raise UsageError("kiseki.Table takes data= or dataframe=, not both.")
            columns = [str(c) for c in dataframe.columns] if columns is None else columns
            data = [list(row) for row in dataframe.itertuples(index=False, name=None)]
        if columns is None:
            width = len(data[0]) if data else 0
            columns = [f"col{i + 1}" for i in range(width)]
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise ValueTypeError(
                f"kiseki.Table columns must be a list of strings, got {columns!r}."
            )
        if len(set(columns)) != len(columns):
            raise UsageError(f"kiseki.Table columns must be distinct, got {columns!r}.")
        self.columns: list[str] = list(columns)
        self.data: list[list[Any]] = []
        for row in data or []:
            self.add_data(*row)

    def add_data(self, *row: Any) -> None:
        """Append one row (one value per column)."""
        if len(row) != len(self.columns):
            raise UsageError(
                f"kiseki.Table row {len(self.data)} has {len(row)} values but the table has "
                f"{len(self.columns)} columns ({', '.join(self.columns)})."
            )
        self.data.append([self._cell(value, len(self.data), i) for i, value in enumerate(row)])

    def _cell(self, value: Any, row: int, column: int) -> Any:
        if isinstance(value, Image):
            return value
        if is_media(value):
            raise ValueTypeError(
                f"kiseki.Table cell (row {row}, column {self.columns[column]!r}) holds a "
                f"{type(value).__name__}: table cells may hold scalars, strings or images."
            )
        from kiseki.sdk.values import normalize_value

        cell = normalize_value(f"{self.columns[column]}[{row}]", value, "Table")
        if isinstance(cell, list):
            raise ValueTypeError(
                f"kiseki.Table cell (row {row}, column {self.columns[column]!r}) holds a list: "
                "table cells may hold scalars, strings or images."
            )
        return cell

    @classmethod
    def from_json(cls, ref: dict[str, Any], reader: BlobReader | None) -> Table:
        """A table read back from its history value (inline, or a blob it names)."""
        reference = dict(ref)
        if ref.get("_type") == TABLE_FILE_JSON_TYPE:
            if reader is None:
                raise UsageError("This table is stored as a blob, and no blob store was given.")
            ref = jsoncodec.loads(reader.read_bytes(ref["digest"]))
        table = cls.__new__(cls)
        table._reference = reference
        table.columns = list(ref.get("columns") or [])
        table.data = [
            [
                Image.from_json(c, reader)
                if isinstance(c, dict) and c.get("_type") == IMAGE_JSON_TYPE
                else c
                for c in row
            ]
            for row in ref.get("data") or []
        ]
        return table

    def to_json(self, blobs: BlobWriter | None, digests: list[str]) -> dict[str, Any]:
        """``{"_type": "table", "columns", "data", "nrows", "ncols"}`` inline, or for a large
        table ``{"_type": "table-file", "digest", "size", "columns", "nrows", "ncols"}``."""
        rows = [
            [c.to_json(blobs, digests) if isinstance(c, Image) else c for c in row]
            for row in self.data
        ]
        shape = {"nrows": len(rows), "ncols": len(self.columns)}
        inline = {"_type": TABLE_JSON_TYPE, "columns": self.columns, "data": rows, **shape}
        encoded = jsoncodec.dumps_bytes(inline)
        if len(encoded) <= INLINE_TABLE_BYTES:
            return inline
        if blobs is not None:
            digest = blobs.put_bytes(encoded)
        else:
            import hashlib

            digest = hashlib.sha256(encoded).hexdigest()
        digests.append(digest)
        return {
            "_type": TABLE_FILE_JSON_TYPE,
            "digest": digest,
            "size": len(encoded),
            "columns": self.columns,
            **shape,
        }

    def get_dataframe(self) -> Any:
        """The table as a pandas ``DataFrame`` (images stay :class:`kiseki.Image` objects)."""
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def __repr__(self) -> str:
        return f"<kiseki.Table {len(self.data)} rows x {len(self.columns)} columns>"
