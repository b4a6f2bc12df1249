// Package metricstest reads the gateway's metrics in tests with the
// Prometheus project's own text parser (prometheus/common/expfmt), so a
// test checks what Prometheus would scrape. For tests only: the parser
// links protobuf, which the gateway must not (cmd/rpcmesh/deps_test.go).
package metricstest

import (
	"bytes"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rpcmesh/rpcmesh/internal/metrics"
)

// Families are parsed metric families by name.
type Families map[string]*dto.MetricFamily

// Scrape writes m's exposition with # TYPE lines, as the gateway binary
// does (its main turns them on), and parses it; t fails if it does not
// parse.
func Scrape(t testing.TB, m *metrics.Metrics) Families {
	t.Helper()
	vm.ExposeMetadata(true) // process-wide and idempotent; see cmd/rpcmesh's main
	var b bytes.Buffer
	m.WritePrometheus(&b)
	return Parse(t, b.Bytes())
}

// Parse parses a text exposition; t fails if it does not parse.
func Parse(t testing.TB, text []byte) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

// Labels are a series' labels by name.
func Labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// Value is a counter's, gauge's or untyped series' value.
func Value(m *dto.Metric) float64 {
	return m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
}

// Sum adds up the values of family name's series whose labels hold every
// pair of match, by the value of label by ("" adds up all of them under
// "").
func (f Families) Sum(name, by string, match map[string]string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		labels := Labels(m)
		ok := true
		for k, v := range match {
			ok = ok && labels[k] == v
		}
		if ok {
			out[labels[by]] += Value(m)
		}
	}
	return out
}
