"""delta-rs (the deltalake package, with pyarrow), driven by rcmlake's interop tests.

Usage: delta_rs_engine.py
Answers requests over the line protocol of summary.py:

  {"op": "summary", "path": P, "version": V|null}   version, protocol, rows, per-column stats
  {"op": "rows", "path": P, "version": V|null, "order_by": [C...]}   every row, typed as text
  {"op": "optimize", "path": P}                     compacts small files (OPTIMIZE)
  {"op": "checkpoint", "path": P}                   writes a checkpoint at the latest version
"""
import os

import deltalake
from deltalake import DeltaTable

from summary import delta_type, rows_as_text, serve, summarize, text


def load(req) -> tuple:
    dt = DeltaTable(req["path"], version=req.get("version"))
    table = dt.to_pyarrow_table()
    if req.get("order_by"):
        table = table.sort_by([(c, "ascending") for c in req["order_by"]])
    return dt, table, {f.name: delta_type(f.type) for f in table.schema}


def summary(req):
    dt, table, types = load(req)
    out = summarize(table, types)
    p = dt.protocol()
    out["version"] = dt.version()
    out["protocol"] = {
        "min_reader_version": p.min_reader_version,
        "min_writer_version": p.min_writer_version,
        "features": sorted(set((p.reader_features or []) + (p.writer_features or []))),
    }
    return out


def rows(req):
    _, table, types = load(req)
    return rows_as_text(table, types)


def optimize(req):
    dt = DeltaTable(req["path"])
    metrics = dt.optimize.compact()
    return {"version": dt.version(), "metrics": {k: text(v) for k, v in metrics.items()}}


def checkpoint(req):
    dt = DeltaTable(req["path"])
    dt.create_checkpoint()
    return {"version": dt.version()}


if __name__ == "__main__":
    serve(deltalake.__version__, {"summary": summary, "rows": rows, "optimize": optimize, "checkpoint": checkpoint})
    # deltalake's runtime threads can abort during interpreter teardown ("terminate called
    # without an active exception") after the work is done; leave without tearing down.
    os._exit(0)
