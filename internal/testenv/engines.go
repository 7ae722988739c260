package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Spark is a local Apache Spark with Delta Lake, as scripts/deps/spark.sh installs it: pyspark
// importable by python3 (it ships the Spark jars and spark-submit), java on the PATH, and the
// Delta jars in .cache/spark-jars.
type Spark struct {
	Python string   // python3
	Jars   []string // absolute paths of the Delta jars, for spark.jars
	Env    []string // the environment to run Python in (SPARK_HOME is pyspark's own folder)
}

// Delta jars that spark.sh fetches; they must match delta-spark's Python package.
var sparkJars = []string{"delta-spark_2.13-4.0.0.jar", "delta-storage-4.0.0.jar"}

// FindSpark locates Spark for the interop tests. It skips the test when something is missing,
// or fails it when RCMLAKE_REQUIRE_SERVERS=1.
func FindSpark(t testing.TB) Spark {
	t.Helper()
	s, err := LookupSpark()
	if err != nil {
		skipOrFail(t, "%v", err)
	}
	return s
}

// LookupSpark is FindSpark without a test: it says what is missing.
func LookupSpark() (Spark, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return Spark{}, errors.New("Spark needs java on the PATH; scripts/deps/spark.sh lists what to install")
	}
	out, err := exec.Command("python3", "-c", "import os, pyspark, delta, pyarrow; print(os.path.dirname(pyspark.__file__))").Output()
	if err != nil {
		return Spark{}, errors.New("pyspark, delta-spark and pyarrow are not installed; run scripts/deps/spark.sh")
	}
	home := strings.TrimSpace(string(out))
	s := Spark{Python: "python3"}
	jars, err := deltaJarPaths()
	if err != nil {
		return Spark{}, fmt.Errorf("%v; run scripts/deps/spark.sh", err)
	}
	s.Jars = jars
	// A SPARK_HOME of another Spark would mix its jars with pyspark's.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPARK_HOME=") && !strings.HasPrefix(kv, "PYSPARK_") {
			s.Env = append(s.Env, kv)
		}
	}
	s.Env = append(s.Env, "SPARK_HOME="+home)
	return s, nil
}

// FindDeltaRS checks that delta-rs (the deltalake Python package) and pyarrow are installed,
// as scripts/deps/deltalake.sh installs them; it skips or fails the test like FindSpark.
func FindDeltaRS(t testing.TB) {
	t.Helper()
	if err := exec.Command("python3", "-c", "import deltalake, pyarrow").Run(); err != nil {
		skipOrFail(t, "deltalake (delta-rs) is not installed; run scripts/deps/deltalake.sh")
	}
}
