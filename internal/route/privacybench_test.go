package route

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// BenchmarkPrivacyMemory reports the heap one remembered address costs
// (bytes/address): one client's LRU filled to capacity, measured by the
// runtime's heap statistics.
func BenchmarkPrivacyMemory(b *testing.B) {
	const n = 1 << 18
	var before, after runtime.MemStats
	for range b.N {
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := newLRU[address, uint16](n)
		for i := range n {
			var a address
			a[0], a[1], a[2] = byte(i), byte(i>>8), byte(i>>16)
			l.put(a, uint16(i%5))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/address")
		runtime.KeepAlive(l)
	}
}

// BenchmarkPickPrivate measures BenchmarkPick's choice for an
// eth_getBalance under the privacy policy: off, and on for an address kept
// already (the policy's usual case), side by side.
func BenchmarkPickPrivate(b *testing.B) {
	var specs []nodeSpec
	for i := range 10 {
		specs = append(specs, nodeSpec{name: fmt.Sprintf("n%d", i), operator: fmt.Sprintf("op%d", i%5), cloud: fmt.Sprintf("c%d", i%3), tier: "own"})
	}
	for _, bc := range []struct {
		name    string
		routing config.Routing
	}{
		{"off", testRouting()},
		{"on", privacyRouting(0.3, 1024, 16)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := startNet(&testing.T{}, bc.routing, specs...)
			defer func() {
				for _, node := range n.nodes {
					node.Close()
				}
			}()
			req := balance("client", testAddress(1))
			b.ReportAllocs()
			for b.Loop() {
				if p, _ := n.router.pick(req, &tried{}, false); p == nil {
					b.Fatal("no pick")
				}
			}
		})
	}
}

// FuzzCallAddresses: the addresses of any params never panic, and the
// fast read of a state method's leading address agrees with decoding the
// params.
func FuzzCallAddresses(f *testing.F) {
	for _, s := range []string{`["0x00000000000000000000000000000000000a11ce","latest"]`, ` [ "0x00000000000000000000000000000000000A11CE" ] `,
		`[{"to":"0x00000000000000000000000000000000000a11ce"}]`, `["0x00000000000000000000000000000000000a11ce"x]`, `[`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, params string) {
		for _, m := range []string{"eth_getBalance", "eth_call", "eth_getLogs"} {
			_ = callAddresses(m, []byte(params))
		}
		if a, ok := leadingAddress([]byte(params)); ok {
			ps := splitArray([]byte(params))
			if len(ps) == 0 {
				return // not a JSON array: the node refuses it; any routing is fine
			}
			if b, ok := parseAddress(ps[0]); !ok || b != a {
				t.Fatalf("%q: fast read %x, decoded %x %v", params, a, b, ok)
			}
		}
	})
}
