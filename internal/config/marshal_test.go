package config

import (
	"reflect"
	"testing"
)

// TestMarshalProviderRoundTrip: a provider entry written by MarshalProvider
// reads back the same through ParseProvider, every field set or left at
// its default, a URL with a secret path and odd characters included.
func TestMarshalProviderRoundTrip(t *testing.T) {
	full := DefaultProvider()
	full.Name, full.HTTP, full.WS = "node9", "https://node9.example.org/v3/KEY#frag?x=1", "wss://node9.example.org/ws: odd"
	full.Labels = Labels{Operator: "nine labs", Cloud: "aws", Region: "eu-west-1", Tier: TierCommunity}
	full.Weight, full.MaxConcurrency, full.MaxRPS, full.ArchiveDepth = 2.5, 16, 12.5, 128
	full.Debug, full.Trace = true, true
	full.CallTransport, full.WSConns = CallTransportWS, 3
	full.CoalesceAbove, full.CoalesceMax = 4, 8
	full.Stage = StageProbation
	plain := DefaultProvider()
	plain.Name, plain.HTTP = "p", "http://127.0.0.1:1"
	for _, p := range []Provider{full, plain} {
		b, err := MarshalProvider(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseProvider(b)
		if err != nil {
			t.Fatalf("%s: %v, from\n%s", p.Name, err, b)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%s: read back %+v, want %+v, from\n%s", p.Name, got, p, b)
		}
	}
}
