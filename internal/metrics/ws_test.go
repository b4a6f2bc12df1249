package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestWSMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := NewWS(reg)
	w.ConnAccepted("a")
	w.ConnAccepted("a")
	w.ConnRejected("a", "per_ip_limit")
	w.Subscriptions("a", "logs", 1)
	w.SlowReader("a")
	w.ConnClosed("a", 1008)
	w.ConnClosed("a", 4001)
	w.Subscriptions("a", "logs", -1)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rpcmesh_ws_connections_accepted_total", map[string]string{"chain": "a"}, 2},
		{"rpcmesh_ws_connections_open", map[string]string{"chain": "a"}, 0},
		{"rpcmesh_ws_connections_rejected_total", map[string]string{"chain": "a", "reason": "per_ip_limit"}, 1},
		{"rpcmesh_ws_slow_reader_disconnects_total", map[string]string{"chain": "a"}, 1},
		{"rpcmesh_ws_disconnects_total", map[string]string{"chain": "a", "code": "1008"}, 1},
		{"rpcmesh_ws_disconnects_total", map[string]string{"chain": "a", "code": "other"}, 1}, // 4001: bounded label
		{"rpcmesh_ws_subscriptions_active", map[string]string{"chain": "a", "kind": "logs"}, 0},
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		got, found := 0.0, false
		for _, f := range families {
			if f.GetName() != c.name {
				continue
			}
			for _, m := range f.GetMetric() {
				match := len(m.GetLabel()) == len(c.labels)
				for _, l := range m.GetLabel() {
					match = match && c.labels[l.GetName()] == l.GetValue()
				}
				if match {
					found = true
					got = m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
		if !found || got != c.want {
			t.Errorf("%s%v: %v (found %v), want %v", c.name, c.labels, got, found, c.want)
		}
	}
}
