#!/usr/bin/env python3
"""Writes Parquet round-trip cases with pyarrow and pyarrow's own reading of each.

Usage: gen-parquet-cases.py OUTPUT_DIR [--bench]

For every case NAME it writes OUTPUT_DIR/NAME.parquet and OUTPUT_DIR/NAME.expected.jsonl
(one JSON object per row in the canonical form of the corpus README: floats as shortest
round-trip text, NaN/Infinity as strings, decimals with exactly `scale` digits, binary as
base64, timestamps ISO-8601 UTC with unit-fixed fraction digits, dates, times, lists as
arrays, maps as [key, value] arrays, structs as objects). The matrix covers type x encoding
x codec x page version x null density x nesting depth, plus multi-row-group and multi-page
files. With --bench it writes instead the larger files used by the decode benchmark.
Generated files are never committed.
"""
import base64
import json
import math
import os
import random
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 1200


def fmt_float(v):
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def civil(days):
    # Proleptic Gregorian date from days since 1970-01-01 (any range).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d


def fmt_date(days):
    y, m, d = civil(days)
    if y < 0:
        ys = "-%06d" % -y
    elif y > 9999:
        ys = "+%06d" % y
    else:
        ys = "%04d" % y
    return "%s-%02d-%02d" % (ys, m, d)


UNITS = {"s": 1, "ms": 1000, "us": 1000000, "ns": 1000000000}
DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def fmt_time_of_day(units, unit):
    per = UNITS[unit]
    secs, frac = divmod(units, per)
    text = "%02d:%02d:%02d" % (secs // 3600, secs // 60 % 60, secs % 60)
    if DIGITS[unit]:
        text += ".%0*d" % (DIGITS[unit], frac)
    return text


def fmt_timestamp(v, unit):
    days, within = divmod(v, UNITS[unit] * 86400)
    return fmt_date(days) + "T" + fmt_time_of_day(within, unit) + "Z"


def conv(arr):
    """Arrow array -> list of JSON-ready Python values."""
    if isinstance(arr, pa.ChunkedArray):
        out = []
        for chunk in arr.chunks:
            out.extend(conv(chunk))
        return out
    t = arr.type
    valid = arr.is_valid().to_pylist()
    if pa.types.is_null(t):
        return [None] * len(arr)
    if pa.types.is_dictionary(t):
        return conv(arr.dictionary_decode())
    if pa.types.is_timestamp(t):
        ints = arr.cast(pa.int64()).to_pylist()
        return [fmt_timestamp(v, t.unit) if ok else None for v, ok in zip(ints, valid)]
    if pa.types.is_date32(t):
        ints = arr.cast(pa.int32()).to_pylist()
        return [fmt_date(v) if ok else None for v, ok in zip(ints, valid)]
    if pa.types.is_time(t):
        ints = arr.cast(pa.int64() if pa.types.is_time64(t) else pa.int32()).to_pylist()
        return [fmt_time_of_day(v, t.unit) if ok else None for v, ok in zip(ints, valid)]
    if pa.types.is_decimal(t):
        return [format(v, "f") if ok else None for v, ok in zip(arr.to_pylist(), valid)]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return [base64.b64encode(v).decode() if ok else None for v, ok in zip(arr.to_pylist(), valid)]
    if pa.types.is_float16(t):
        return [fmt_float(v) if ok else None for v, ok in zip(arr.cast(pa.float32()).to_pylist(), valid)]
    if pa.types.is_floating(t):
        return [fmt_float(v) if ok else None for v, ok in zip(arr.to_pylist(), valid)]
    if pa.types.is_map(t):
        offsets = arr.offsets.to_pylist()
        keys = conv(arr.keys)
        items = conv(arr.items)
        return [[[keys[j], items[j]] for j in range(offsets[i], offsets[i + 1])] if valid[i] else None
                for i in range(len(arr))]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = arr.offsets.to_pylist()
        values = conv(arr.values)
        return [values[offsets[i]:offsets[i + 1]] if valid[i] else None for i in range(len(arr))]
    if pa.types.is_struct(t):
        fields = [conv(f) for f in arr.flatten()]
        names = [t.field(i).name for i in range(t.num_fields)]
        return [dict(zip(names, [f[i] for f in fields])) if valid[i] else None for i in range(len(arr))]
    return [v if ok else None for v, ok in zip(arr.to_pylist(), valid)]


def write_expected(path, out_path):
    table = pq.read_table(path)
    columns = [conv(table.column(i)) for i in range(table.num_columns)]
    names = table.column_names
    with open(out_path, "w") as f:
        for r in range(table.num_rows):
            row = {names[c]: columns[c][r] for c in range(len(names))}
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n")


def nulls(rng, n, density):
    if density == 0:
        return None
    return pa.array([rng.random() < density for _ in range(n)])


def with_nulls(arr, mask):
    if mask is None:
        return arr
    return pa.compute.if_else(mask, pa.nulls(len(arr), arr.type), arr)


def flat_columns(rng, n, density):
    """name -> array, covering every physical and logical type pyarrow writes."""
    ints = [rng.randint(-2**31, 2**31 - 1) for _ in range(n)]
    small = [rng.randint(-50, 50) for _ in range(n)]
    words = ["", "a", "hello", "world", "ünïcødé", "x" * 40, "quote\"back\\slash", "tab\tnew\nline"]
    cols = {
        "bool": pa.array([rng.random() < 0.5 for _ in range(n)]),
        "i8": pa.array([rng.randint(-128, 127) for _ in range(n)], pa.int8()),
        "i16": pa.array([rng.randint(-32768, 32767) for _ in range(n)], pa.int16()),
        "i32": pa.array(ints, pa.int32()),
        "i32_small": pa.array(small, pa.int32()),
        "i64": pa.array([rng.randint(-2**63, 2**63 - 1) for _ in range(n)], pa.int64()),
        "i64_seq": pa.array([1000000 + 3 * i + rng.randint(0, 2) for i in range(n)], pa.int64()),
        "u8": pa.array([rng.randint(0, 255) for _ in range(n)], pa.uint8()),
        "u16": pa.array([rng.randint(0, 65535) for _ in range(n)], pa.uint16()),
        "u32": pa.array([rng.randint(0, 2**32 - 1) for _ in range(n)], pa.uint32()),
        "u64": pa.array([rng.randint(0, 2**64 - 1) for _ in range(n)], pa.uint64()),
        "f32": pa.array([rng.choice([rng.uniform(-1e6, 1e6), 0.1, -0.0, float("nan"), float("inf"), 1e-30])
                         for _ in range(n)], pa.float32()),
        "f64": pa.array([rng.choice([rng.uniform(-1e12, 1e12), 1 / 3, 1e300, -1e-300, float("-inf"), 123.0])
                         for _ in range(n)], pa.float64()),
        "f16": pa.array([rng.choice([0.5, -2.0, 1000.0, 0.0001, 65504.0]) for _ in range(n)],
                        pa.float32()).cast(pa.float16()),
        "str": pa.array([rng.choice(words) + str(rng.randint(0, 20)) for _ in range(n)], pa.string()),
        "bin": pa.array([bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 12))) for _ in range(n)],
                        pa.binary()),
        "fixed": pa.array([bytes(rng.randint(0, 255) for _ in range(5)) for _ in range(n)], pa.binary(5)),
        "dec9": pa.array([Decimal(rng.randint(-10**8, 10**8)) / 100 for _ in range(n)], pa.decimal128(9, 2)),
        "dec18": pa.array([Decimal(rng.randint(-10**17, 10**17)) / 10**6 for _ in range(n)],
                          pa.decimal128(18, 6)),
        "dec38": pa.array([Decimal(rng.randint(-10**37, 10**37)) / 10**10 for _ in range(n)],
                          pa.decimal128(38, 10)),
        "dec50": pa.array([Decimal(rng.randint(-10**49, 10**49)) / 10**5 for _ in range(n)],
                          pa.decimal256(50, 5)),
        "date": pa.array([rng.randint(-800000, 2900000) for _ in range(n)], pa.int32()).cast(pa.date32()),
        "t_ms": pa.array([rng.randint(0, 86400000 - 1) for _ in range(n)], pa.int32()).cast(pa.time32("ms")),
        "t_us": pa.array([rng.randint(0, 86400000000 - 1) for _ in range(n)], pa.int64()).cast(pa.time64("us")),
        "t_ns": pa.array([rng.randint(0, 86400000000000 - 1) for _ in range(n)], pa.int64()).cast(pa.time64("ns")),
        "ts_ms": pa.array([rng.randint(-10**13, 10**13) for _ in range(n)], pa.int64()).cast(pa.timestamp("ms")),
        "ts_us_utc": pa.array([rng.randint(-10**16, 10**16) for _ in range(n)], pa.int64()).cast(
            pa.timestamp("us", tz="UTC")),
        "ts_ns": pa.array([rng.randint(-2**62, 2**62) for _ in range(n)], pa.int64()).cast(pa.timestamp("ns")),
    }
    for name in list(cols):
        if name != "bool" or density == 1.0:
            cols[name] = with_nulls(cols[name], nulls(rng, n, density))
    return cols


def nested_columns(rng, n, density):
    def maybe(v):
        return None if density and rng.random() < density else v

    def ints(k):
        return [maybe(rng.randint(-100, 100)) for _ in range(k)]

    def words(k):
        return [maybe(rng.choice(["a", "bb", "", "ccc"])) for _ in range(k)]

    return {
        "list_i32": pa.array([maybe(ints(rng.randint(0, 4))) for _ in range(n)], pa.list_(pa.int32())),
        "list_list_str": pa.array([maybe([maybe(words(rng.randint(0, 3))) for _ in range(rng.randint(0, 3))])
                                   for _ in range(n)], pa.list_(pa.list_(pa.string()))),
        "struct": pa.array([maybe({"a": maybe(rng.randint(0, 9)),
                                   "b": maybe([maybe({"c": maybe(rng.choice(["x", "y"]))})
                                               for _ in range(rng.randint(0, 2))])})
                            for _ in range(n)],
                           pa.struct([("a", pa.int64()), ("b", pa.list_(pa.struct([("c", pa.string())])))])),
        "map": pa.array([maybe([(rng.choice(["k1", "k2", "k3"]), maybe(rng.randint(0, 5)))
                                for _ in range(rng.randint(0, 3))]) for _ in range(n)],
                        pa.map_(pa.string(), pa.int32())),
        "list_map": pa.array([maybe([maybe([(rng.randint(0, 9), maybe(rng.random()))
                                            for _ in range(rng.randint(0, 2))])
                                     for _ in range(rng.randint(0, 2))]) for _ in range(n)],
                             pa.list_(pa.map_(pa.int32(), pa.float64()))),
        "deep": pa.array([maybe([maybe({"x": maybe([maybe([maybe(rng.randint(0, 3))
                                                          for _ in range(rng.randint(0, 2))])
                                                   for _ in range(rng.randint(0, 2))])})
                                 for _ in range(rng.randint(0, 2))]) for _ in range(n)],
                         pa.list_(pa.struct([("x", pa.list_(pa.list_(pa.int16())))]))),
        "list_non_null": pa.array([[rng.randint(0, 9) for _ in range(rng.randint(0, 3))] for _ in range(n)],
                                  pa.list_(pa.field("item", pa.int32(), nullable=False))),
    }


def write(out, name, table, **kwargs):
    path = os.path.join(out, name + ".parquet")
    pq.write_table(table, path, **kwargs)
    write_expected(path, os.path.join(out, name + ".expected.jsonl"))


ENCODABLE = {
    "DELTA_BINARY_PACKED": ["i8", "i16", "i32", "i32_small", "i64", "i64_seq", "u32", "u64", "date", "ts_ms", "t_us"],
    "DELTA_LENGTH_BYTE_ARRAY": ["str", "bin"],
    "DELTA_BYTE_ARRAY": ["str", "bin", "fixed"],
    "BYTE_STREAM_SPLIT": ["f32", "f64", "i32", "i64", "fixed", "f16", "dec9"],
    "PLAIN": None,
    "RLE": ["bool"],
}


def cases(out):
    rng = random.Random(20261127)
    n = ROWS
    # 1. Every codec x page version, all flat types, 30% nulls, several row groups and pages.
    for codec in ["NONE", "SNAPPY", "GZIP", "ZSTD", "LZ4", "BROTLI"]:
        for version in ["1.0", "2.0"]:
            table = pa.table(flat_columns(rng, n, 0.3))
            write(out, "flat_%s_v%s" % (codec.lower(), version[0]), table, compression=codec,
                  data_page_version=version, row_group_size=500, data_page_size=2048, write_batch_size=128)
    # 2. Every non-dictionary encoding x page version x null density.
    for encoding, names in ENCODABLE.items():
        for version in ["1.0", "2.0"]:
            for density in [0.0, 0.3, 1.0]:
                columns = flat_columns(rng, n, density)
                if names is not None:
                    columns = {k: v for k, v in columns.items() if k in names}
                table = pa.table(columns)
                encodings = {k: encoding for k in columns}
                write(out, "enc_%s_v%s_n%d" % (encoding.lower(), version[0], int(density * 100)), table,
                      compression="SNAPPY" if version == "1.0" else "ZSTD", use_dictionary=False,
                      column_encoding=encodings, data_page_version=version, data_page_size=4096)
    # 3. Dictionary encoding (with fallback to plain on large dictionaries), decimals as integers.
    for version in ["1.0", "2.0"]:
        for density in [0.0, 0.3]:
            table = pa.table(flat_columns(rng, n, density))
            write(out, "dict_v%s_n%d" % (version[0], int(density * 100)), table, compression="ZSTD",
                  use_dictionary=True, dictionary_pagesize_limit=1024, data_page_version=version,
                  data_page_size=1024)
            kwargs = {"store_decimal_as_integer": True}
            decimals = pa.table({k: v for k, v in flat_columns(rng, n, density).items() if k.startswith("dec")})
            try:
                write(out, "decint_v%s_n%d" % (version[0], int(density * 100)), decimals, data_page_version=version,
                      **kwargs)
            except TypeError:
                pass
    # 4. Nesting x null density x page version, with several pages and row groups.
    for version in ["1.0", "2.0"]:
        for density in [0.0, 0.25, 0.6]:
            table = pa.table(nested_columns(rng, n, density))
            write(out, "nested_v%s_n%d" % (version[0], int(density * 100)), table, compression="SNAPPY",
                  data_page_version=version, row_group_size=400, data_page_size=512, write_batch_size=64)
    # 5. Legacy two-level lists and INT96 timestamps.
    table = pa.table({"l": pa.array([[1, 2], [], None, [3]], pa.list_(pa.int32())),
                      "ts": pa.array([0, -1, 10**18, None], pa.int64()).cast(pa.timestamp("ns"))})
    write(out, "legacy_lists_int96", table, use_compliant_nested_type=False, use_deprecated_int96_timestamps=True)
    # 6. Empty table and a table with one row group per row.
    write(out, "empty", pa.table({"a": pa.array([], pa.int32()), "s": pa.array([], pa.string())}))
    write(out, "tiny_groups", pa.table({"a": pa.array(range(7), pa.int64())}), row_group_size=1)


def bench(out):
    """Larger files (about 50 MB decoded each) for the decode benchmark."""
    rng = random.Random(7)
    n = 6_000_000
    import numpy as np
    g = np.random.default_rng(7)
    tables = {
        "int64_plain": (pa.table({"v": pa.array(g.integers(-2**62, 2**62, n))}), {"use_dictionary": False}),
        "int64_dict": (pa.table({"v": pa.array(g.integers(0, 1000, n))}), {}),
        "double": (pa.table({"v": pa.array(g.standard_normal(n))}), {"use_dictionary": False}),
        "nullable_int64": (pa.table({"v": pa.array(g.integers(0, 2**40, n), mask=g.random(n) < 0.3)}),
                           {"use_dictionary": False}),
    }
    words = np.array(["w%07d" % i for i in range(200000)], dtype=object)
    s = n // 2
    tables["string_plain"] = (pa.table({"v": pa.array(words[g.integers(0, 200000, s)] + "-padding-text")}),
                              {"use_dictionary": False})
    tables["string_dict"] = (pa.table({"v": pa.array(words[g.integers(0, 1000, s)] + "-padding-text")}), {})
    offsets = np.concatenate([[0], np.cumsum(g.integers(0, 8, n // 4))]).astype(np.int32)
    tables["list_int32"] = (pa.table({"v": pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(g.integers(0, 10**6, int(offsets[-1])).astype(np.int32)))}), {"use_dictionary": False})
    for name, (table, kwargs) in tables.items():
        for codec in ["snappy", "zstd"]:
            pq.write_table(table, os.path.join(out, "%s.%s.parquet" % (name, codec)), compression=codec,
                           row_group_size=1 << 20, **kwargs)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    if "--bench" in sys.argv:
        bench(sys.argv[1])
    else:
        cases(sys.argv[1])
