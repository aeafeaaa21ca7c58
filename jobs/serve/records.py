"""JSON records -> one Arrow record batch, as a source would give the day's rows.

Each record is checked field by field against the model's feature schema first, so that a
record that does not fit is reported by its index, field, the JSON type found and the type
expected (HTTP 422). The batch then goes through the batch path's ``conform`` (casts, text to
categories, missing values), never through rules of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import pyarrow as pa
from pandas.api import types as ptypes

from jobs.errors import InvalidRecord
from pipelines.spec import ModelSpec

NUMBER, TEXT, BOOLEAN, ANY = "number", "string", "boolean", "any"


def json_type(value) -> str:
    """The JSON name of a decoded value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@lru_cache(maxsize=256)
def expected_type(dtype: str | None) -> str:
    """What JSON type a feature of this training dtype takes (null is always a missing value,
    except for booleans, which have none). Cached: every request asks it for every feature."""
    if dtype is None:
        return ANY
    if dtype in ("object", "str", "string", "category"):
        return TEXT
    try:
        kind = ptypes.pandas_dtype(dtype)
    except TypeError:
        return ANY
    if ptypes.is_bool_dtype(kind):
        return BOOLEAN
    if ptypes.is_numeric_dtype(kind):
        return NUMBER
    if ptypes.is_string_dtype(kind):
        return TEXT
    return ANY


def _check(index: int, field: str, value, expected: str, dtype: str | None) -> None:
    found = json_type(value)
    if found == "null" and expected != BOOLEAN:
        return
    if expected == ANY and found in (NUMBER, TEXT, BOOLEAN):
        return
    if found == expected:
        return
    raise InvalidRecord(
        f"record {index}: field {field} is {_a(found)}, expected {_a(expected)}"
        + (f" ({dtype})" if dtype and expected != ANY else ""),
        record=index, field=field, found=found, expected=expected if dtype is None else f"{expected} ({dtype})",
        hint="send the field with the type the model was trained on; null is a missing value",
    )


def _a(kind: str) -> str:
    if kind == "null":
        return "null"
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def records_to_batch(records: Sequence, spec: ModelSpec, id_columns: Sequence[str]) -> pa.RecordBatch:
    """The records' id columns and features as one batch; ``InvalidRecord`` for the first
    record that does not fit.

    Columns are built by Arrow and judged by their Arrow type; only a column that does not
    fit is scanned value by value, to name the record.
    """
    fields = [(name, ANY, None) for name in id_columns] + [
        (f.name, expected_type(f.dtype), f.dtype) for f in spec.features if f.name not in id_columns
    ]
    required = {name for name, _e, _d in fields}
    for index, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidRecord(
                f"record {index} is {_a(json_type(record))}, expected an object of fields",
                record=index, field=None, found=json_type(record), expected="object",
                hint='send {"records": [{"field": value, ...}, ...]}',
            )
        if not required <= record.keys():
            name, expected, dtype = next(f for f in fields if f[0] not in record)
            raise InvalidRecord(
                f"record {index}: field {name} is missing",
                record=index, field=name, found="missing", expected=_a(expected) if dtype is None else f"{expected} ({dtype})",
                hint="send every id column and feature; null for a missing value",
            )
    arrays = []
    for name, expected, dtype in fields:
        values = [record[name] for record in records]
        is_id = name in id_columns
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            _scan(values, name, expected, dtype, is_id)
            index, found = _first_odd(values)
            raise InvalidRecord(
                f"record {index}: field {name} cannot share a column with the other records' values: {exc}",
                record=index, field=name, found=found, expected="one type for every record",
                hint="send the same type of value in this field in every record",
            ) from exc
        if not _fits(array, expected) or (is_id and array.null_count):
            _scan(values, name, expected, dtype, is_id)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=[name for name, _e, _d in fields])


def _fits(array: pa.Array, expected: str) -> bool:
    kind = array.type
    if pa.types.is_null(kind):
        return expected != BOOLEAN
    if expected == NUMBER:
        return pa.types.is_integer(kind) or pa.types.is_floating(kind)
    if expected == TEXT:
        return pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if expected == BOOLEAN:
        return pa.types.is_boolean(kind) and array.null_count == 0
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_string(kind) or pa.types.is_boolean(kind)


def _scan(values: list, name: str, expected: str, dtype: str | None, is_id: bool) -> None:
    """Raise ``InvalidRecord`` for the first value of the column that does not fit."""
    for index, value in enumerate(values):
        if is_id and value is None:
            raise InvalidRecord(
                f"record {index}: id field {name} is null",
                record=index, field=name, found="null", expected="a number or a string",
                hint="every record needs its id",
            )
        _check(index, name, value, expected, dtype)


def _first_odd(values: list) -> tuple[int, str]:
    """The first value whose JSON type differs from the first non-null one's."""
    kinds = [json_type(v) for v in values]
    first = next((k for k in kinds if k != "null"), "null")
    for index, kind in enumerate(kinds):
        if kind not in (first, "null"):
            return index, kind
    return 0, first
