#!/usr/bin/env bash
# Apache Spark 4 (pyspark, which ships spark-submit, the jars and the Spark Connect server) with
# Delta Lake (delta-spark): the independent engine of the interop tests and the Spark backend's
# test server. The Delta jars come from Maven Central through mvn, into .cache/spark-jars, and
# are passed with --jars. Idempotent: fast when already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYSPARK=4.0.1
DELTA=4.0.0
jars=.cache/spark-jars

# pyarrow: the interop tests take Spark's rows as Arrow (DataFrame.toArrow).
if ! python3 -c "import pyspark, delta, pyarrow, sys; sys.exit(pyspark.__version__ != '$PYSPARK')" 2>/dev/null; then
  python3 -m pip install --quiet "pyspark==$PYSPARK" "delta-spark==$DELTA" "pyarrow>=17"
fi
mkdir -p "$jars"
for a in "io.delta:delta-spark_2.13:$DELTA" "io.delta:delta-storage:$DELTA"; do
  name=$(echo "$a" | awk -F: '{print $2"-"$3".jar"}')
  [ -s "$jars/$name" ] && continue
  if ! command -v mvn >/dev/null 2>&1; then
    echo "spark.sh: mvn (Maven) is needed to fetch $a from Maven Central" >&2
    exit 1
  fi
  mvn -q dependency:copy -Dartifact="$a" -DoutputDirectory="$jars"
done
