#!/usr/bin/env python3
"""Writes the Parquet files that `scripts/bench` reads, with pyarrow, deterministically (fixed seeds).

Usage:
  gen_data.py decode OUT_DIR [--quick]   shape x codec matrix for `scripts/bench decode`
  gen_data.py micro OUT_DIR              one-column files for the micro-benchmarks (Benchmarks/SluiceMicro)
  gen_data.py memory OUT_DIR [--quick]   files of about 5, 50 and 500 MB (5 MB only with --quick) with the same
                                         row-group size, for `scripts/bench memory`

Each run writes OUT_DIR/manifest.json last; a directory with a manifest is complete and is reused.
Generated files are never committed (.bench-data/ is git-ignored).
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CODECS = ["none", "snappy", "zstd", "gzip", "lz4"]


def decode_shapes(n, rng):
    """Returns {shape: (table, write options)} for the decode matrix, each about n rows."""
    words = np.array(["customer-%07d" % i for i in range(200_000)], dtype=object)

    def nullable(fraction):
        values = rng.integers(0, 2**40, n)
        mask = rng.random(n) < fraction if fraction else None
        return pa.table({"v": pa.array(values, mask=mask)}), {"use_dictionary": False}

    shapes = {
        # Random 62-bit integers: nothing for a dictionary to find.
        "int64_plain": (pa.table({"v": pa.array(rng.integers(-2**62, 2**62, n))}), {"use_dictionary": False}),
        # 1,000 distinct values: dictionary pages with 10-bit indices.
        "int64_dict": (pa.table({"v": pa.array(rng.integers(0, 1_000, n))}), {}),
        "double": (pa.table({"v": pa.array(rng.standard_normal(n))}), {"use_dictionary": False}),
        # High-cardinality strings, PLAIN; and 1,000 distinct strings, dictionary-encoded.
        "string_plain": (pa.table({"v": pa.array(words[rng.integers(0, len(words), n // 2)])}),
                         {"use_dictionary": False}),
        "string_dict": (pa.table({"v": pa.array(words[rng.integers(0, 1_000, n // 2)])}), {}),
        # DECIMAL(18, 4) as pyarrow writes it by default (FIXED_LEN_BYTE_ARRAY).
        "decimal": (pa.table({"v": pa.array(rng.integers(-10**13, 10**13, n)).cast(pa.decimal128(19, 0))
                               .cast(pa.decimal128(18, 4))}), {"use_dictionary": False}),
        # Microsecond timestamps, increasing with jitter, as event logs hold them.
        "timestamp": (pa.table({"v": pa.array(1_757_462_400_000_000 + np.cumsum(rng.integers(0, 2_000_000, n)))
                                 .cast(pa.timestamp("us", tz="UTC"))}), {}),
        "nullable_0": nullable(0.0),
        "nullable_10": nullable(0.10),
        "nullable_90": nullable(0.90),
    }
    lengths = rng.integers(0, 8, n // 4)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    items = pa.array(rng.integers(0, 10**6, int(offsets[-1])).astype(np.int32))
    shapes["list_int32"] = (pa.table({"v": pa.ListArray.from_arrays(pa.array(offsets), items)}),
                            {"use_dictionary": False})
    return shapes


def write_decode(out, quick):
    rng = np.random.default_rng(7)
    n = 200_000 if quick else 2_000_000
    shapes = decode_shapes(n, rng)
    if quick:
        # Every shape under snappy (the default), and every codec on two shapes.
        plan = [(s, "snappy") for s in shapes] + [(s, c) for s in ["int64_plain", "string_dict"] for c in CODECS
                                                   if c != "snappy"]
    else:
        plan = [(s, c) for s in shapes for c in CODECS]
    files = []
    for shape, codec in plan:
        table, options = shapes[shape]
        name = "%s.%s.parquet" % (shape, codec)
        path = os.path.join(out, name)
        pq.write_table(table, path, compression=codec, row_group_size=1 << 20, **options)
        files.append({"file": name, "shape": shape, "codec": codec, "rows": table.num_rows,
                      "arrow_bytes": table.nbytes, "file_bytes": os.path.getsize(path)})
    return files


def write_micro(out):
    """One column, one row group, about 1M values each; see Benchmarks/SluiceMicro for what each isolates."""
    rng = np.random.default_rng(11)
    n = 1 << 20
    cases = []

    def write(name, array, **options):
        table = pa.table({"v": array})
        options.setdefault("compression", "none")
        pq.write_table(table, os.path.join(out, name), row_group_size=n, **options)
        cases.append({"file": name, "rows": table.num_rows, "arrow_bytes": table.nbytes})

    # 100,000 distinct int32 values in random order: 17-bit bit-packed dictionary indices dominate.
    dictionary = rng.integers(-2**31, 2**31, 100_000).astype(np.int32)
    write("bitpack_w17.parquet", pa.array(dictionary[rng.integers(0, 100_000, n)]),
          dictionary_pagesize_limit=1 << 20)
    # 16 distinct int64 values in long sorted runs: RLE runs (fills) dominate.
    write("rle_runs.parquet", pa.array(np.sort(rng.integers(0, 16, n)).astype(np.int64)))
    # 1,000 distinct strings: the dictionary gather of variable-length values dominates.
    words = np.array(["customer-%07d" % i for i in range(1_000)], dtype=object)
    write("dict_strings.parquet", pa.array(words[rng.integers(0, 1_000, n)]))
    # Half the rows null at random: bit-packed definition levels dominate.
    write("levels_nullable.parquet", pa.array(rng.integers(0, 2**40, n), mask=rng.random(n) < 0.5),
          use_dictionary=False)
    # Increasing timestamps with jitter: DELTA_BINARY_PACKED miniblocks.
    write("delta_int64.parquet", pa.array(1_757_462_400_000_000 + np.cumsum(rng.integers(0, 5_000, n))),
          use_dictionary=False, column_encoding={"v": "DELTA_BINARY_PACKED"})
    # Sorted keys sharing prefixes: DELTA_BYTE_ARRAY (prefix lengths, then DELTA_LENGTH suffixes).
    keys = sorted("market/prices/ds=2025-09-%02d/part-%06d.parquet" % (i % 30 + 1, i) for i in range(n // 4))
    write("delta_strings.parquet", pa.array(keys), use_dictionary=False,
          column_encoding={"v": "DELTA_BYTE_ARRAY"})
    # The same random int64 column uncompressed, then behind each codec: the difference is the codec call.
    plain = pa.array(rng.integers(0, 2**20, n))  # compressible: 20 significant bits of 64
    for codec in ["none", "snappy", "zstd"]:
        write("plain_int64.%s.parquet" % codec, plain, use_dictionary=False, compression=codec)
    return cases


MEMORY_ROW_GROUP = 512 * 1024


def write_memory(out, quick):
    """Files of about 5, 50 and 500 MB on disk (snappy) with 512Ki-row groups, so that the largest row group is the
    same size in each and peak memory should not grow with the file. Columns: id Int64, qty Int32, price Float64,
    name String (5,000 distinct values, dictionary-encoded)."""
    rng = np.random.default_rng(13)
    words = np.array(["customer-%07d" % i for i in range(5_000)], dtype=object)
    files = []
    targets = [5] if quick else [5, 50, 500]
    for megabytes in targets:
        name = "mem_%dmb.parquet" % megabytes
        path = os.path.join(out, name)
        rows = int(megabytes * 1e6 / 17.5)  # about 17.5 stored bytes per row with these columns under snappy
        writer = None
        written = 0
        while written < rows:
            n = min(MEMORY_ROW_GROUP, rows - written)
            table = pa.table({
                "id": pa.array(np.arange(written, written + n, dtype=np.int64)),
                "qty": pa.array(rng.integers(0, 1_000, n).astype(np.int32)),
                "price": pa.array(rng.standard_normal(n)),
                "name": pa.array(words[rng.integers(0, len(words), n)]),
            })
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=MEMORY_ROW_GROUP)
            written += n
        writer.close()
        metadata = pq.ParquetFile(path).metadata
        largest = max(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        files.append({"file": name, "rows": rows, "file_bytes": os.path.getsize(path),
                      "row_groups": metadata.num_row_groups, "largest_row_group_bytes": largest})
    return files


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("decode", "micro", "memory"):
        sys.exit(__doc__)
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    manifest = os.path.join(out, "manifest.json")
    if os.path.exists(manifest):
        return
    quick = "--quick" in sys.argv
    if kind == "decode":
        files = write_decode(out, quick)
    elif kind == "memory":
        files = write_memory(out, quick)
    else:
        files = write_micro(out)
    with open(manifest + ".tmp", "w") as f:
        json.dump({"pyarrow": pa.__version__, "files": files}, f, indent=1)
    os.replace(manifest + ".tmp", manifest)


if __name__ == "__main__":
    main()
