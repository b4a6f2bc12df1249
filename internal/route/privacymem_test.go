package route

import (
	"runtime"
	"testing"
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
