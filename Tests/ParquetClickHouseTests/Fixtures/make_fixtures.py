#!/usr/bin/env python3
"""Writes the Parquet fixtures of ParquetClickHouseTests (run from this folder; needs pyarrow).

types.parquet: one column per supported Parquet type and nesting, 7 rows in 2 row groups, nulls at every level.
"""
import datetime
import decimal
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

N = 7


def pick(values):
    return [values[i % len(values)] for i in range(N)]


utc = datetime.timezone.utc
columns = {
    "id": pa.array(range(N), pa.int64()),
    "i8": pa.array(pick([-128, 127, 0, 5]), pa.int8()),
    "i16": pa.array(pick([-32768, 32767, 1]), pa.int16()),
    "i32": pa.array(pick([None, -2147483648, 2147483647, 7]), pa.int32()),
    "u8": pa.array(pick([255, 0, 9]), pa.uint8()),
    "u16": pa.array(pick([65535, 3]), pa.uint16()),
    "u32": pa.array(pick([4294967295, 11]), pa.uint32()),
    "u64": pa.array(pick([18446744073709551615, 13]), pa.uint64()),
    "widen": pa.array(pick([-5, 2147483647]), pa.int32()),
    "f32": pa.array(pick([1.5, -0.25, 3.0]), pa.float32()),
    "f64": pa.array(pick([None, -2.25, 1e300]), pa.float64()),
    "s": pa.array(pick(["tab\there", None, "ü", ""]), pa.string()),
    "b": pa.array(pick([b"\x00\x01", b"bytes"]), pa.binary()),
    "fsb": pa.array(pick([b"abcd", b"\x00\x00\x00\x01"]), pa.binary(4)),
    "dict": pa.array(pick(["red", "green", "red", "blue"]), pa.string()).dictionary_encode(),
    "dec": pa.array(pick([decimal.Decimal("-12345678.91"), decimal.Decimal("0.01")]), pa.decimal128(10, 2)),
    "dec38": pa.array(pick([decimal.Decimal("-1234567890123456789012345678.1234567891"), decimal.Decimal("1.0000000001")]), pa.decimal128(38, 10)),
    "dsmall": pa.array(pick([decimal.Decimal("-999.99"), decimal.Decimal("1.23")]), pa.decimal128(5, 2)),
    "d": pa.array(pick([datetime.date(2025, 9, 10), datetime.date(1970, 1, 2), datetime.date(2100, 12, 31)]), pa.date32()),
    "ts_ms": pa.array(pick([datetime.datetime(2025, 9, 10, 12, 34, 56, 789000, tzinfo=utc), datetime.datetime(1971, 1, 1, tzinfo=utc)]), pa.timestamp("ms", tz="UTC")),
    "ts_us": pa.array(pick([datetime.datetime(2025, 9, 10, 12, 34, 56, 123456), None]), pa.timestamp("us")),
    "ts_ns": pa.array(pick([1757507696123456789, 1]), pa.timestamp("ns", tz="UTC")),
    "ts_s": pa.array(pick([datetime.datetime(2025, 9, 10, 12, 34, 56, tzinfo=utc)]), pa.timestamp("ms", tz="UTC")),
    "bo": pa.array(pick([True, False, True]), pa.bool_()),
    "u": pa.array(pick([uuid.UUID("01234567-89ab-cdef-0123-456789abcdef").bytes, uuid.UUID(int=1).bytes]), pa.uuid()),
    "l": pa.array(pick([[1, None, 3], None, [], [4]]), pa.list_(pa.int32())),
    "ll": pa.array(pick([[["a"], [], ["b", "c"]], [], None, [[""]]]), pa.list_(pa.list_(pa.string()))),
    "m": pa.array(pick([[("k", 1), ("n", None)], [], None]), pa.map_(pa.string(), pa.int64())),
    "st": pa.array(pick([{"a": 1, "b": "x"}, None, {"a": None, "b": "z"}]), pa.struct([("a", pa.int32()), ("b", pa.string())])),
    "ls": pa.array(pick([[{"x": 1, "y": ["p"]}, {"x": None, "y": []}], None, [{"x": 2, "y": None}]]),
                   pa.list_(pa.struct([("x", pa.int32()), ("y", pa.list_(pa.string()))]))),
    "unused": pa.array(pick(["not in the table"]), pa.string()),
}

table = pa.table(columns)
pq.write_table(table, "types.parquet", row_group_size=4, compression="snappy", store_decimal_as_integer=True)

# A file whose columns do not fit a table in several ways at once (see the schema mismatch test).
bad = pa.table({
    "id": pa.array([1, 2], pa.int64()),
    "name": pa.array(["a", None], pa.string()),
    "price": pa.array([1.5, 2.5], pa.float64()),
    "tags": pa.array([["x"], []], pa.list_(pa.string())),
    "amount": pa.array([decimal.Decimal("1.234"), decimal.Decimal("2.000")], pa.decimal128(10, 3)),
})
pq.write_table(bad, "mismatch.parquet")

# Values that some column types cannot hold (see the value error tests).
values = pa.table({
    "n": pa.array([1, None, 3], pa.int32()),
    "far_date": pa.array([datetime.date(2025, 1, 1), datetime.date(2200, 1, 1), datetime.date(1950, 1, 1)], pa.date32()),
    "ts_frac": pa.array([0, 1500, 2000], pa.timestamp("ms", tz="UTC")),
    "long_s": pa.array(["abc", "abcdef", ""], pa.string()),
    "e": pa.array(["a", "b", "z"], pa.string()),
    "st": pa.array([{"a": 1}, None, {"a": 3}], pa.struct([pa.field("a", pa.int32(), nullable=False)])),
    "u8": pa.array([1, 2, 3], pa.uint8()),
    "i64": pa.array([1, 2, 3], pa.int64()),
})
pq.write_table(values, "values.parquet")

# Few distinct strings (dictionary-encoded for LowCardinality) and all-distinct ones (sent plain).
few = [["red", "green", "blue", None][i % 4] for i in range(200)]
pq.write_table(pa.table({
    "id": pa.array(range(200), pa.int64()),
    "c": pa.array(few, pa.string()),
    "u": pa.array([f"value {i}" for i in range(200)], pa.string()),
}), "lowcardinality.parquet")
