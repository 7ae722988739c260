"""Reads Delta tables with delta-rs (the deltalake package), independently of rcmlake.

Usage: read_delta_rs.py TABLE_PATH [VERSION]
Prints one JSON object: version, protocol, row count, and for every decimal column its exact
sum as a string, for every date column its min and max, and the number of NULLs per column.
"""
import json
import os
import sys

import pyarrow.compute as pc
from deltalake import DeltaTable


def main() -> None:
    path = sys.argv[1]
    version = int(sys.argv[2]) if len(sys.argv) > 2 else None
    dt = DeltaTable(path, version=version)
    table = dt.to_pyarrow_table()
    out = {
        "version": dt.version(),
        "min_reader_version": dt.protocol().min_reader_version,
        "min_writer_version": dt.protocol().min_writer_version,
        "rows": table.num_rows,
        "decimal_sums": {},
        "date_ranges": {},
        "nulls": {},
    }
    for field in table.schema:
        col = table[field.name]
        out["nulls"][field.name] = col.null_count
        t = str(field.type)
        if t.startswith("decimal"):
            s = pc.sum(col).as_py()
            out["decimal_sums"][field.name] = None if s is None else str(s)
        elif t.startswith("date32"):
            mm = pc.min_max(col).as_py()
            out["date_ranges"][field.name] = [str(mm["min"]), str(mm["max"])]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
    # deltalake's runtime threads can abort during interpreter teardown ("terminate called
    # without an active exception") after the work is done; leave without tearing down.
    os._exit(0)
