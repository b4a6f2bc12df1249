// What tests ask of a devnet beyond its API: a node by name, a plain
// transaction, a devnet a test package shares, and a raw JSON-RPC client of
// a node, each failing the test when it cannot be had.

package devnet

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// Transfer is a test's transaction on the devnet: 1 wei from key, with
// nonce, to an address nobody holds. A transaction that cannot be signed
// fails the test.
func (d *Devnet) Transfer(t testing.TB, key *ecdsa.PrivateKey, nonce uint64) *types.Transaction {
	t.Helper()
	to := common.HexToAddress("0x000000000000000000000000000000000000c0de")
	tx, err := SignTx(key, d.Info().ChainID, nonce, &to, 1, nil, 21000)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// MustNode is the node named name; a name the devnet does not have fails
// the test.
func (d *Devnet) MustNode(t testing.TB, name string) NodeInfo {
	t.Helper()
	n, ok := d.Node(name)
	if !ok {
		t.Fatalf("no devnet node %s", name)
	}
	return n
}

// Main is the TestMain of a test package whose tests all run against one
// devnet started with opts (RunSuite): it starts it (not with -short: then
// no test runs), hands it to use, runs the tests, closes the devnet and
// exits with the tests' code.
func Main(m *testing.M, name string, opts Options, use func(d *Devnet)) {
	flag.Parse()
	os.Exit(RunSuite(name, testing.Short(), opts, nil, func(d *Devnet) int {
		use(d)
		return m.Run()
	}))
}

// Shared is the devnet of a test package whose unit tests run without
// one: the first test that asks for it starts it, with its Activity, and
// Main closes it after the last test.
type Shared struct {
	once sync.Once
	d    *Devnet
	act  *Activity
	err  error
}

// Get returns the shared devnet and its activity, starting them on the
// first call. With -short it skips the test; a devnet that did not start
// fails it.
func (s *Shared) Get(t testing.TB) (*Devnet, *Activity) {
	t.Helper()
	if testing.Short() {
		t.Skip("devnet test skipped in -short mode")
	}
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		s.d, s.err = Start(ctx, Options{BlockTime: 500 * time.Millisecond})
		if s.err == nil {
			s.act, s.err = s.d.MakeActivity(ctx)
		}
	})
	if s.err != nil {
		t.Fatalf("devnet: %v", s.err)
	}
	return s.d, s.act
}

// Main runs the package's tests, closes the devnet if a test started it
// and exits with the tests' code: a test package's TestMain.
func (s *Shared) Main(m *testing.M) {
	code := m.Run()
	if s.d != nil {
		if err := s.d.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close devnet:", err)
		}
	}
	os.Exit(code)
}

// DialRPC connects a client to url with its own connection pool, so that
// connections a fault cut in one test are not reused by the next; both
// close when the test ends.
func DialRPC(t testing.TB, url string) *rpc.Client {
	t.Helper()
	tr := &http.Transport{}
	c, err := rpc.DialOptions(context.Background(), url, rpc.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(); tr.CloseIdleConnections() })
	return c
}

// CallRaw sends method with params (a JSON array, or empty for none) on c
// and returns the result as the node wrote it.
func CallRaw(ctx context.Context, c *rpc.Client, method string, params json.RawMessage) (json.RawMessage, error) {
	var args []json.RawMessage
	if len(params) > 0 {
		if err := json.Unmarshal(params, &args); err != nil {
			return nil, fmt.Errorf("%s params: %w", method, err)
		}
	}
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	var out json.RawMessage
	err := c.CallContext(ctx, &out, method, anyArgs...)
	return out, err
}
