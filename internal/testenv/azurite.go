package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Azurite's well-known development account. It is public (Microsoft documents it), not a
// secret, and it only opens the emulator.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite blob service on 127.0.0.1.
type Azurite struct {
	// BlobEndpoint is the account's blob endpoint, path-style:
	// http://127.0.0.1:PORT/devstoreaccount1.
	BlobEndpoint string
	Account      string
	Key          string
}

// ConnectionString is the emulator's connection string.
func (a *Azurite) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		a.Account, a.Key, a.BlobEndpoint)
}

var (
	azuriteOnce sync.Once
	azurite     *Azurite
	azuriteErr  error
	azuriteSkip string
)

// azuriteBinary finds azurite-blob: $RCMLAKE_AZURITE, then the copy that
// scripts/deps/azurite.sh installs in .cache/azurite, then PATH.
func azuriteBinary() (string, error) {
	if p := os.Getenv("RCMLAKE_AZURITE"); p != "" {
		return p, nil
	}
	local := filepath.Join(RepoRoot(), ".cache", "azurite", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	return exec.LookPath("azurite-blob")
}

// StartAzurite returns the test binary's Azurite blob service, starting it on first use
// (in memory, on a free 127.0.0.1 port). Tests share it, so each should use its own
// container. The test is skipped when Azurite is not installed (run
// scripts/deps/azurite.sh), or fails if RCMLAKE_REQUIRE_SERVERS=1.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	azuriteOnce.Do(func() {
		bin, err := azuriteBinary()
		if err != nil {
			azuriteSkip = "Azurite is not installed: run scripts/deps/azurite.sh (npm install azurite@3.35.0 into .cache/azurite)"
			return
		}
		if _, err := exec.LookPath("node"); err != nil {
			azuriteSkip = "node is not installed, so Azurite cannot run"
			return
		}
		_, port, err := startServer("azurite", func(port int, dir string) []string {
			return []string{bin,
				"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
				"--inMemoryPersistence", // nothing on disk; cmd.Dir is a temp folder anyway
				"--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose",
			}
		}, "/")
		if err != nil {
			azuriteErr = err
			return
		}
		azurite = &Azurite{
			BlobEndpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, AzuriteAccount),
			Account:      AzuriteAccount,
			Key:          AzuriteKey,
		}
	})
	if azuriteSkip != "" {
		skipOrFail(t, "%s", azuriteSkip)
	}
	if azuriteErr != nil {
		t.Fatalf("Azurite is installed but did not start: %v", azuriteErr)
	}
	return azurite
}
