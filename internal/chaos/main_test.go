package chaos

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// env is the package's one devnet and gateway; nil with -short, when the
// end-to-end tests skip.
var env *Env

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	e, err := StartEnv(ctx, EnvOptions{BlockTime: 500 * time.Millisecond})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: start devnet and gateway:", err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	env.Close()
	os.Exit(code)
}

// needEnv skips an end-to-end test with -short.
func needEnv(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Skip("needs the devnet: skipped with -short")
	}
}
