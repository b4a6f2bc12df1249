package metrics_test

import (
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
)

func TestWSMetrics(t *testing.T) {
	m := metrics.New()
	w := metrics.NewWS(m)
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
	fams := metricstest.Scrape(t, m)
	for _, c := range checks {
		got, found := 0.0, false
		for _, s := range fams[c.name].GetMetric() {
			labels := metricstest.Labels(s)
			match := len(labels) == len(c.labels)
			for k, v := range c.labels {
				match = match && labels[k] == v
			}
			if match {
				found = true
				got = metricstest.Value(s)
			}
		}
		if !found || got != c.want {
			t.Errorf("%s%v: %v (found %v), want %v", c.name, c.labels, got, found, c.want)
		}
	}
}
