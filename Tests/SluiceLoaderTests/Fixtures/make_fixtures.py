#!/usr/bin/env python3
"""Writes the Parquet fixtures of SluiceLoaderTests (run from this folder; needs pyarrow).

nested.parquet   6 rows in 3 row groups: lists, maps, structs, lists of structs, nulls at every level.
batch_<n>.parquet   the good files of a batch: id (n*100 + i), v, s; 2 row groups of 5 rows each.
null_in_v.parquet   the same columns, but v has a NULL in the second row group: a value error in the middle of
                    the insert when the table's v is not Nullable.
corrupt_page.parquet   the same columns, with a valid footer and a damaged data page in the second row group
                       (its page checksum no longer matches).
bad_footer.parquet   a batch file whose footer bytes are damaged (length and magic intact).
mismatch.parquet    id is a string and v is missing: does not fit the batch table.
"""
import pyarrow as pa
import pyarrow.parquet as pq

nested = pa.table({
    "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
    "name": pa.array(["a", None, "c", "d\te", "", "f"], pa.string()),
    "tags": pa.array([["x", "y"], [], None, ["z"], ["", "w"], ["v"]], pa.list_(pa.string())),
    "scores": pa.array([[1, None, 3], [4], [], None, [5, 6], [7]], pa.list_(pa.int32())),
    "attrs": pa.array([[("k", 1), ("n", None)], [], None, [("a", 2)], [("b", 3), ("c", 4)], [("d", 5)]],
                      pa.map_(pa.string(), pa.int64())),
    "point": pa.array([{"x": 1.5, "y": -2.0}, None, {"x": None, "y": 3.25}, {"x": 0.0, "y": 0.0}, {"x": 7.0, "y": 8.0},
                       {"x": -1.0, "y": 1.0}], pa.struct([("x", pa.float64()), ("y", pa.float64())])),
    "items": pa.array([[{"a": 1, "b": ["p", "q"]}, {"a": None, "b": []}], [], None, [{"a": 2, "b": None}],
                       [{"a": 3, "b": ["r"]}], [{"a": 4, "b": ["s", "t", "u"]}]],
                      pa.list_(pa.struct([("a", pa.int32()), ("b", pa.list_(pa.string()))]))),
})
pq.write_table(nested, "nested.parquet", row_group_size=2, compression="snappy")


def batch_table(n, v=None):
    ids = [n * 100 + i for i in range(10)]
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "v": pa.array(v if v is not None else [i * 3 for i in ids], pa.int64()),
        "s": pa.array([f"file {n} row {i}" for i in range(10)], pa.string()),
    })


for n in range(1, 6):
    pq.write_table(batch_table(n), f"batch_{n}.parquet", row_group_size=5, compression="snappy")

pq.write_table(batch_table(7, [1, 2, 3, 4, 5, 6, None, 8, 9, 10]), "null_in_v.parquet", row_group_size=5, compression="none")

# A damaged data page: with page checksums written, the reader notices the flipped bytes.
pq.write_table(batch_table(8), "corrupt_page.parquet", row_group_size=5, compression="none", write_page_checksum=True)
metadata = pq.ParquetFile("corrupt_page.parquet").metadata
chunk = metadata.row_group(1).column(2)  # s, second row group
start = chunk.dictionary_page_offset or chunk.data_page_offset
data = bytearray(open("corrupt_page.parquet", "rb").read())
end = start + chunk.total_compressed_size
for i in range(end - 12, end - 4):
    data[i] ^= 0x5A
open("corrupt_page.parquet", "wb").write(bytes(data))

# The footer's Thrift bytes overwritten (length and magic intact): the file claims to be Parquet but is damaged.
whole = bytearray(open("batch_1.parquet", "rb").read())
footer_length = int.from_bytes(whole[-8:-4], "little")
footer_start = len(whole) - 8 - footer_length
for i in range(footer_start, footer_start + 16):
    whole[i] = 0xFF
open("bad_footer.parquet", "wb").write(bytes(whole))

pq.write_table(pa.table({
    "id": pa.array(["one", "two"], pa.string()),
    "s": pa.array(["a", "b"], pa.string()),
}), "mismatch.parquet")
