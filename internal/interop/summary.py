"""What the engine scripts share: the line protocol and the names of Delta types.

An engine script prints one JSON line {"ok": true, "ready": VERSION} when it is ready, then
answers each JSON request line on stdin with one JSON line: {"ok": true, "result": ...} or
{"ok": false, "error": MESSAGE}. Only the answers go to stdout; everything else the engine
prints (the JVM's logs, Rust panics) is sent to stderr.
"""
import json
import os
import sys


def serve(ready: str, ops: dict) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # the JVM, started later, inherits fd 1: keep its chatter off the protocol
    sys.stdout = sys.stderr
    proto.write(json.dumps({"ok": True, "ready": ready}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = {"ok": True, "result": ops[req["op"]](req)}
        except Exception as e:  # the test reads the message (a refusal names the feature)
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"[:8000]}
        proto.write(json.dumps(out) + "\n")


# Kinds of Delta types, for the statistics each gets (see internal/interop/summary.go).
NUMERIC = ("byte", "short", "integer", "long")


def kind(delta_type: str) -> str:
    if delta_type.startswith("decimal"):
        return "decimal"
    if delta_type in NUMERIC:
        return "integer"
    if delta_type in ("string", "date", "timestamp", "timestamp_ntz", "boolean"):
        return delta_type
    return "other"


def delta_type(t) -> str:
    """The Delta type name of an Arrow type."""
    import pyarrow as pa

    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp" if t.tz else "timestamp_ntz"
    for name, test in (
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)),
        ("date", pa.types.is_date32),
        ("long", pa.types.is_int64),
        ("integer", pa.types.is_int32),
        ("short", pa.types.is_int16),
        ("byte", pa.types.is_int8),
        ("double", pa.types.is_float64),
        ("float", pa.types.is_float32),
        ("boolean", pa.types.is_boolean),
        ("binary", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)),
    ):
        if test(t):
            return name
    return str(t)


def text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return None if v is None else str(v)


def micros(col):
    """Epoch microseconds, whatever the unit: no time zone conversion on the way."""
    import pyarrow as pa

    return col.cast(pa.timestamp("us", tz=col.type.tz)).cast(pa.int64())


def summarize(table, types: dict) -> dict:
    """Rows and per-column statistics of an Arrow table, by the Delta type the engine gave each
    column (types: name -> Delta type name): NULLs, sums of decimals and integers, distinct
    values of integers and strings, characters of strings, min and max of dates and timestamps
    (timestamps as epoch microseconds), trues of booleans. All numbers but rows and nulls are
    text, so that decimals stay exact."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {"rows": table.num_rows, "columns": []}
    for field in table.schema:
        t = types[field.name]
        col, k = table[field.name], kind(t)
        c = {"name": field.name, "type": t, "nulls": col.null_count}
        if k in ("decimal", "integer"):
            c["sum"] = text(pc.sum(col).as_py())
        if k in ("integer", "string"):
            c["distinct"] = str(pc.count_distinct(col).as_py())
        if k == "string":
            c["chars"] = text(pc.sum(pc.utf8_length(col)).as_py())
        if k == "date":
            mm = pc.min_max(col).as_py()
            c["min"], c["max"] = text(mm["min"]), text(mm["max"])
        if k in ("timestamp", "timestamp_ntz"):
            mm = pc.min_max(micros(col)).as_py()
            c["min"], c["max"] = text(mm["min"]), text(mm["max"])
        if k == "boolean":
            c["trues"] = str(pc.sum(pc.cast(pc.fill_null(col, False), pa.int64())).as_py())
        out["columns"].append(c)
    return out


def rows_as_text(table, types: dict) -> dict:
    """Every row, every value as text (timestamps as epoch microseconds)."""
    cols, data = [], []
    for field in table.schema:
        t = types[field.name]
        col = table[field.name]
        if kind(t) in ("timestamp", "timestamp_ntz"):
            col = micros(col)
        cols.append({"name": field.name, "type": t})
        data.append([text(v) for v in col.to_pylist()])
    return {"columns": cols, "rows": [list(r) for r in zip(*data)]}
