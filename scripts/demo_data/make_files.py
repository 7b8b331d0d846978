#!/usr/bin/env python3
"""Writes the demo's sample Parquet files: one table per domain, Hive-partitioned keys, several row groups,
nested columns. usage: make_files.py OUT_DIR  (prints one line per file: <key> <size>)"""
import datetime
import decimal
import os
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

OUT = sys.argv[1]
rnd = random.Random(20250910)


def write(key, table, row_group_size):
    path = os.path.join(OUT, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size, compression="zstd")
    print(key, os.path.getsize(path))


def market_prices(day, n):
    base = datetime.datetime(2025, 9, day, tzinfo=datetime.timezone.utc)
    return pa.table({
        "symbol": pa.array([rnd.choice(["AAPL", "MSFT", "GOOG", "AMZN", "NVDA"]) for _ in range(n)]).dictionary_encode(),
        "price": pa.array([round(rnd.uniform(10, 900), 4) for _ in range(n)], pa.float64()),
        "volume": pa.array([rnd.randint(1, 10_000) for _ in range(n)], pa.int64()),
        "ts": pa.array([base + datetime.timedelta(milliseconds=37 * i) for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "bid_ask": pa.array([[round(rnd.uniform(10, 900), 2), round(rnd.uniform(10, 900), 2)] for _ in range(n)], pa.list_(pa.float64())),
    })


def customer_accounts(n, offset):
    return pa.table({
        "account_id": pa.array(range(offset, offset + n), pa.int64()),
        "email": pa.array([f"user{offset + i}@example.com" for i in range(n)]),
        "balance": pa.array([decimal.Decimal(rnd.randint(-10_000, 1_000_000)) / 100 for _ in range(n)], pa.decimal128(12, 2)),
        "tier": pa.array([rnd.choice(["gold", "silver", None]) for _ in range(n)]),
        "opened": pa.array([datetime.date(2020, 1, 1) + datetime.timedelta(days=rnd.randint(0, 2000)) for _ in range(n)], pa.date32()),
    })


def product_catalog(n):
    return pa.table({
        "sku": pa.array([f"SKU-{i:06d}" for i in range(n)]),
        "name": pa.array([f"Product {i}" for i in range(n)]),
        "tags": pa.array([[rnd.choice(["new", "sale", "eco", "bulk"]) for _ in range(rnd.randint(0, 3))] for _ in range(n)], pa.list_(pa.string())),
        "dimensions": pa.array(
            [{"width": rnd.randint(1, 100), "height": rnd.randint(1, 100)} for _ in range(n)],
            pa.struct([("width", pa.int32()), ("height", pa.int32())]),
        ),
    })


def analytics_events(n, hour):
    return pa.table({
        "event_id": pa.array([f"{hour:02d}-{i:08d}" for i in range(n)]),
        "user_id": pa.array([rnd.randint(1, 50_000) for _ in range(n)], pa.int64()),
        "kind": pa.array([rnd.choice(["view", "click", "purchase"]) for _ in range(n)]),
        "properties": pa.array(
            [[("page", rnd.choice(["home", "cart", "search"])), ("ref", rnd.choice(["ads", "mail"]))] for _ in range(n)],
            pa.map_(pa.string(), pa.string()),
        ),
        "duration_ms": pa.array([None if rnd.random() < 0.1 else rnd.randint(1, 60_000) for _ in range(n)], pa.int32()),
    })


write("market/prices/ds=2025-09-10/part-001.parquet", market_prices(10, 40_000), 10_000)
write("market/prices/ds=2025-09-10/part-002.parquet", market_prices(10, 25_000), 10_000)
write("market/prices/ds=2025-09-11/part-001.parquet", market_prices(11, 30_000), 10_000)
write("customer/accounts/ds=2025-09-10/part-001.parquet", customer_accounts(20_000, 0), 5_000)
write("product/catalog/ds=2025-09-10/part-001.parquet", product_catalog(5_000), 2_000)
write("analytics/events/ds=2025-09-10/hour=07/part-001.parquet", analytics_events(30_000, 7), 10_000)
write("analytics/events/ds=2025-09-10/hour=08/part-001.parquet", analytics_events(20_000, 8), 10_000)
