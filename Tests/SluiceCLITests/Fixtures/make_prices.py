#!/usr/bin/env python3
"""Writes small Parquet files for the pipeline tests: columns symbol, price, volume (the partition column ds
comes from the key). usage: make_prices.py OUT_DIR COUNT ROWS  -> OUT_DIR/f<i>.parquet"""
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

out, count, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
for i in range(count):
    table = pa.table({
        "symbol": pa.array([f"S{(i * 7 + r) % 13}" for r in range(rows)]),
        "price": pa.array([float(i) + r / 100.0 for r in range(rows)], pa.float64()),
        "volume": pa.array([i * 1000 + r for r in range(rows)], pa.int64()),
    })
    pq.write_table(table, os.path.join(out, f"f{i}.parquet"), row_group_size=max(1, rows // 2), compression="snappy")
