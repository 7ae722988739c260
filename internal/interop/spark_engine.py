"""Apache Spark with Delta Lake (pyspark + delta-spark), driven by rcmlake's interop tests.

Usage: spark_engine.py JAR[,JAR...]
Starts one classic local Spark session (a JVM start costs ~10 s, so the tests start it once)
and answers requests over the line protocol of summary.py:

  {"op": "summary", "path": P, "version": V|null}   version, protocol, rows, per-column stats
  {"op": "rows", "path": P, "version": V|null, "order_by": [C...]}   every row, typed as text
  {"op": "sql", "sql": S}                           runs a statement, returns its rows as text

Spark reads and decodes the table; its rows come to Python as Arrow (the tables are small)
and summary.py computes the same statistics as for delta-rs. Types are Spark's own.
"""
import json
import sys

from summary import rows_as_text, serve, summarize


def main() -> None:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("rcmlake-interop")
        .config("spark.jars", sys.argv[1])
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        # A short-lived JVM on two shared cores: the C1 compiler only and interpreted
        # expressions (no Janino code generation per query) cost a third of the CPU for
        # hundreds of tiny reads. The Delta log and Parquet readers are the same.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .config("spark.sql.session.timeZone", "UTC")
        # Small tables on two shared cores: one partition for shuffles and for the Delta log
        # state (50 by default), or every read pays for dozens of empty tasks.
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "2")
        .config("spark.databricks.delta.snapshotPartitions", "1")
        .config("spark.sql.adaptive.enabled", "false")
        # Spark's defaults for new tables must not decide what a table needs.
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def table(path, version=None):
        t = "delta.`" + path.replace("`", "``") + "`"
        if version is not None:
            t += f" VERSION AS OF {int(version)}"
        return t

    def delta_type(dt) -> str:
        name = dt.typeName()
        return dt.simpleString() if name == "decimal" else name

    def load(req):
        df = spark.sql("SELECT * FROM " + table(req["path"], req.get("version")))
        if req.get("order_by"):
            df = df.orderBy(*[f"`{c}`" for c in req["order_by"]])
        types = {f.name: delta_type(f.dataType) for f in df.schema.fields}
        return df.toArrow(), types

    def summary(req):
        path, version = req["path"], req.get("version")
        out = summarize(*load(req))
        # The snapshot the read just loaded (no job): its version, and the protocol at latest.
        snap = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path).unsafeVolatileSnapshot()
        out["version"] = snap.version() if version is None else int(version)
        p = json.loads(snap.protocol().json())["protocol"]
        out["protocol"] = {
            "min_reader_version": p["minReaderVersion"],
            "min_writer_version": p["minWriterVersion"],
            "features": sorted(set(p.get("readerFeatures", []) + p.get("writerFeatures", []))),
        }
        return out

    def rows(req):
        return rows_as_text(*load(req))

    def sql(req):
        df = spark.sql(req["sql"])
        return [[None if v is None else str(v) for v in r] for r in df.collect()]

    serve(spark.version, {"summary": summary, "rows": rows, "sql": sql})


if __name__ == "__main__":
    main()
