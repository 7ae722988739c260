package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SparkConnect is a running Spark Connect server on 127.0.0.1, with Delta Lake.
type SparkConnect struct {
	// Remote is its connection string: sc://127.0.0.1:PORT.
	Remote string
	Port   int
}

var (
	sparkOnce sync.Once
	spark     *SparkConnect
	sparkErr  error
	sparkSkip string
)

// sparkStartTimeout bounds the JVM's start: about 10 s when idle, slower on a busy 2-core
// machine; a server that is not listening by then will not be.
const sparkStartTimeout = 120 * time.Second

// sparkHome finds the Spark distribution: $SPARK_HOME, else the one pyspark ships (what
// scripts/deps/spark.sh installs).
func sparkHome() (string, error) {
	if h := os.Getenv("SPARK_HOME"); h != "" {
		return h, nil
	}
	out, err := exec.Command("python3", "-c", "import pyspark, os; print(os.path.dirname(pyspark.__file__))").Output()
	if err != nil {
		return "", fmt.Errorf("pyspark is not installed")
	}
	return strings.TrimSpace(string(out)), nil
}

// deltaJarPaths are the Delta jars scripts/deps/spark.sh puts in .cache/spark-jars (or
// $RCMLAKE_SPARK_JARS), for the Spark Connect server and the interop tests alike.
func deltaJarPaths() ([]string, error) {
	dir := os.Getenv("RCMLAKE_SPARK_JARS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".cache", "spark-jars")
	}
	var jars []string
	for _, j := range sparkJars {
		p := filepath.Join(dir, j)
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			return nil, fmt.Errorf("%s is missing", p)
		}
		jars = append(jars, p)
	}
	return jars, nil
}

// SparkConnectArgs is the spark-submit command line of a local Spark Connect server with
// Delta Lake on port, kept small: 1 GB driver, 4 shuffle partitions, no UI.
func SparkConnectArgs(home string, jars []string, port int) []string {
	return []string{filepath.Join(home, "bin", "spark-submit"),
		"--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
		"--master", "local[2]", "--driver-memory", "1g",
		"--jars", strings.Join(jars, ","),
		"--conf", "spark.connect.grpc.binding.address=127.0.0.1",
		"--conf", fmt.Sprintf("spark.connect.grpc.binding.port=%d", port),
		"--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
		"--conf", "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
		"--conf", "spark.sql.shuffle.partitions=4",
		"--conf", "spark.ui.enabled=false",
		"--conf", "spark.sql.session.timeZone=UTC",
		"--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC -XX:+UseSerialGC",
	}
}

// StartSparkConnect returns the test binary's Spark Connect server, starting it on first use
// on a free 127.0.0.1 port; StopServers (from TestMain) stops it. Tests share it, so each
// should use its own session and folders. The test is skipped when Spark or the Delta jars
// are not installed (run scripts/deps/spark.sh), or fails if RCMLAKE_REQUIRE_SERVERS=1; a
// server that does not start in time fails with the tail of its log.
func StartSparkConnect(t testing.TB) *SparkConnect {
	t.Helper()
	sparkOnce.Do(func() {
		home, err := sparkHome()
		if err != nil {
			sparkSkip = "Spark is not installed (" + err.Error() + "): run scripts/deps/spark.sh"
			return
		}
		if _, err := exec.LookPath("java"); err != nil {
			sparkSkip = "java is not installed, so Spark cannot run"
			return
		}
		jars, err := deltaJarPaths()
		if err != nil {
			sparkSkip = "the Delta jars are not installed (" + err.Error() + "): run scripts/deps/spark.sh"
			return
		}
		_, port, err := startServerProbe("spark-connect", func(port int, dir string) []string {
			return SparkConnectArgs(home, jars, port)
		}, func(s *server, port int) error {
			return waitTCP(s, port, sparkStartTimeout)
		}, []string{"SPARK_HOME=" + home, "SPARK_LOCAL_IP=127.0.0.1", "PYSPARK_PYTHON=python3"})
		if err != nil {
			sparkErr = err
			return
		}
		spark = &SparkConnect{Remote: fmt.Sprintf("sc://127.0.0.1:%d", port), Port: port}
	})
	if sparkSkip != "" {
		skipOrFail(t, "%s", sparkSkip)
	}
	if sparkErr != nil {
		t.Fatalf("Spark Connect is installed but did not start: %v", sparkErr)
	}
	return spark
}
