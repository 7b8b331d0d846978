"""Test data for the loader scenarios: Parquet files in moto, their tables in ClickHouse, and the exactly-once count."""
from __future__ import annotations

import io
import random

from harness import BUCKET, Fail

ROWS_PER_FILE = 50


def parquet_bytes(src: str, rows: int = ROWS_PER_FILE, seed: int = 0) -> bytes:
    """A small Parquet file whose every row carries `src`, so the table shows which file each row came from."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = random.Random("%s/%d" % (src, seed))
    table = pa.table({
        "id": pa.array(range(rows), pa.uint64()),
        "src": pa.array([src] * rows, pa.string()),
        "v": pa.array([rng.random() for _ in range(rows)], pa.float64()),
        "pad": pa.array(["%032x" % rng.getrandbits(128) for _ in range(rows)], pa.string()),
    })
    out = io.BytesIO()
    pq.write_table(table, out, compression="snappy")
    return out.getvalue()


TABLE_COLUMNS = "id UInt64, src String, v Float64, pad String"


class Dataset:
    """`count` Parquet files under chaos/<table>/ in the chaos bucket, and the empty table they load into
    (`extra_columns`: more column definitions, e.g. lineage columns that Sluice fills)."""

    def __init__(self, ctx, clickhouse, moto, table, count, rows=ROWS_PER_FILE, database="chaos", prefix="part", extra_columns=""):
        self.ctx = ctx
        self.clickhouse = clickhouse
        self.moto = moto
        self.database = database
        self.table = table
        self.rows = rows
        self.keys = []
        self.etags = {}
        moto.bucket(BUCKET)
        clickhouse.query("CREATE DATABASE IF NOT EXISTS %s" % database)
        clickhouse.query("DROP TABLE IF EXISTS %s.%s" % (database, table))
        columns = TABLE_COLUMNS + (", " + extra_columns if extra_columns else "")
        clickhouse.query("CREATE TABLE %s.%s (%s) ENGINE = MergeTree() ORDER BY id" % (database, table, columns))
        for i in range(count):
            self.add("%s-%05d.parquet" % (prefix, i))

    def key(self, name):
        return "chaos/%s/%s" % (self.table, name)

    def add(self, name, data=None):
        key = self.key(name)
        data = data if data is not None else parquet_bytes(key, self.rows)
        self.etags[key] = self.moto.put(BUCKET, key, data)
        self.keys.append(key)
        return key

    def event(self, key, **kwargs):
        from harness import object_event
        head = self.moto.s3.head_object(Bucket=BUCKET, Key=key)
        return object_event(key, size=head["ContentLength"], etag=self.etags.get(key), **kwargs)

    def counts(self):
        """{src: rows} as the table holds them now."""
        text = self.clickhouse.query("SELECT src, count() FROM %s.%s GROUP BY src FORMAT TSV" % (self.database, self.table))
        out = {}
        for line in text.splitlines():
            if line.strip():
                src, n = line.split("\t")
                out[src] = int(n)
        return out

    def check_exactly_once(self, keys):
        """Every key in `keys` has exactly `rows` rows, and nothing else is in the table. Returns figures."""
        counts = self.counts()
        expected = set(keys)
        missing = sorted(expected - set(counts))
        extra = sorted(set(counts) - expected)
        duplicated = sorted(k for k in expected & set(counts) if counts[k] != self.rows)
        if missing or extra or duplicated:
            raise Fail("exactly-once broken: %d of %d files loaded, %d missing (e.g. %s), %d with a wrong row count "
                       "(e.g. %s), %d unexpected" % (len(expected) - len(missing), len(expected), len(missing),
                                                      missing[:2], len(duplicated),
                                                      ["%s=%d" % (k, counts[k]) for k in duplicated[:2]], len(extra)))
        return "%d files x %d rows exactly once" % (len(expected), self.rows)

    def staging_tables(self):
        text = self.clickhouse.query("SELECT name FROM system.tables WHERE database = '%s' AND name LIKE '\\\\_sluice\\\\_stage%%' FORMAT TSV" % self.database)
        return [line for line in text.splitlines() if line.strip()]
