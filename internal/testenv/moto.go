package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Moto is a running moto S3 server on 127.0.0.1. It accepts any credentials.
type Moto struct {
	Endpoint        string // http://127.0.0.1:PORT
	Region          string
	AccessKeyID     string
	SecretAccessKey string
}

var (
	motoOnce sync.Once
	moto     *Moto
	motoErr  error
	motoSkip string
)

// StartMoto returns the test binary's moto server, starting it on first use on a free
// 127.0.0.1 port. Tests share it, so each should use its own bucket. The test is skipped
// when moto_server is not installed (run scripts/deps/moto.sh), or fails if
// RCMLAKE_REQUIRE_SERVERS=1.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	motoOnce.Do(func() {
		bin := os.Getenv("RCMLAKE_MOTO_SERVER")
		if bin == "" {
			var err error
			if bin, err = exec.LookPath("moto_server"); err != nil {
				motoSkip = "moto_server is not installed: run scripts/deps/moto.sh (pip install 'moto[server]')"
				return
			}
		}
		_, port, err := startServer("moto", func(port int, dir string) []string {
			return []string{bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port)}
		}, "/moto-api/")
		if err != nil {
			motoErr = err
			return
		}
		moto = &Moto{
			Endpoint:        fmt.Sprintf("http://127.0.0.1:%d", port),
			Region:          "us-east-1",
			AccessKeyID:     "testing",
			SecretAccessKey: "testing",
		}
	})
	if motoSkip != "" {
		skipOrFail(t, "%s", motoSkip)
	}
	if motoErr != nil {
		t.Fatalf("moto_server is installed but did not start: %v", motoErr)
	}
	return moto
}
