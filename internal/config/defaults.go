package config

import (
	"strings"
	"time"
)

// Every default lives in this file. The loader decodes the YAML over Default()
// and every list element over DefaultChain() or DefaultProvider(), so a key the
// file leaves out keeps its default and a key it sets to zero stays zero (and
// validation says so, rather than silently replacing it). Complete then fills the
// defaults that depend on other fields.

// Default returns a config with every default applied and no chains.
func Default() *Config {
	return &Config{
		Server: Server{
			Listen:            "127.0.0.1:8545",
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(60 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(15 * time.Second),
			CORS: CORS{
				AllowedOrigins: []string{"*"},
				MaxAge:         Duration(10 * time.Minute),
			},
			Gzip:           true,
			MaxHeaderBytes: 16 << 10,
			GCPercent:      400,
		},
		Admin:     Admin{Listen: "127.0.0.1:9545"},
		Verify:    DefaultVerify(),
		Usage:     DefaultUsage(),
		Admission: DefaultAdmission(),
		Limits: Limits{
			MaxBodyBytes:          1 << 20,
			MaxBatchItems:         100,
			BatchConcurrency:      16,
			MaxResponseBytes:      32 << 20,
			RequestTimeout:        Duration(30 * time.Second),
			MaxConcurrentRequests: 1024,
			MaxLogsBlockRange:     10000,
			LogsSplitBlocks:       1000,
		},
		Routing:   DefaultRouting(),
		WebSocket: DefaultWebSocket(),
		Broadcast: DefaultBroadcast(),
		Filters:   DefaultFilters(),
		Notify:    DefaultNotify(),
		Audit:     DefaultAudit(),
		Incidents: DefaultIncidents(),
		Health: Health{
			PollInterval:     Duration(2 * time.Second),
			PollMinInterval:  Duration(100 * time.Millisecond),
			HeadStaleBlocks:  1.5,
			ReadyStaleBlocks: 10,
			ChainIDInterval:  Duration(60 * time.Second),
			MaxLagBlocks:     3,
			BreakerFailures:  5,
			BreakerCooldown:  Duration(10 * time.Second),
			ProbeInterval:    Duration(5 * time.Second),
			EWMAHalfLife:     Duration(30 * time.Second),
			PenaltyHalfLife:  Duration(10 * time.Minute),
			ProviderTimeout:  Duration(10 * time.Second),
		},
		StatusPage: DefaultStatusPage(),
	}
}

// DefaultRouting returns the default top-level routing.
func DefaultRouting() Routing {
	return Routing{
		MaxOperatorShare: 0.5,
		MaxCloudShare:    0.6,
		ShareWindow:      Duration(60 * time.Second),
		Retries:          2,
		RetryBackoff:     Duration(50 * time.Millisecond),
		Hedge:            true,
		HedgeQuantile:    0.9,
		HedgeMinDelay:    Duration(20 * time.Millisecond),
		HedgeMaxDelay:    Duration(2 * time.Second),
		ExplorationShare: 0.05,
		PrivacyMaxShare:  DefaultPrivacyMaxShare,
		PrivacyAddresses: DefaultPrivacyAddresses,
		PrivacyClients:   DefaultPrivacyClients,
	}
}

// DefaultChain returns a chain with its defaults; Name, ChainID and Providers
// are the caller's. HeadAgreement 0 means "min(2, distinct operators)", set by Complete.
func DefaultChain() Chain {
	return Chain{FinalityDepth: 64}
}

// DefaultProvider returns a provider with its defaults; Name and HTTP are the
// caller's. An empty Labels.Operator becomes the name in Complete.
func DefaultProvider() Provider {
	return Provider{
		Labels:         Labels{Tier: TierPublic},
		Weight:         1,
		MaxConcurrency: 64,
		CallTransport:  CallTransportHTTP,
		WSConns:        2,
		CoalesceMax:    32,
	}
}

// Complete fills the defaults that depend on other fields: a provider's
// operator (its name), an empty tier (public), and a chain's head agreement
// (min(2, distinct operators)); it also normalizes labels (see Labels). Parse and Load call it; call it yourself on a
// Config built in code, before Validate.
func (c *Config) Complete() {
	for i := range c.Chains {
		ch := &c.Chains[i]
		for j := range ch.Providers {
			l := &ch.Providers[j].Labels
			l.Operator = strings.ToLower(strings.TrimSpace(l.Operator))
			l.Cloud = strings.ToLower(strings.TrimSpace(l.Cloud))
			l.Tier = strings.ToLower(strings.TrimSpace(l.Tier))
			if l.Operator == "" {
				l.Operator = ch.Providers[j].Name
			}
			if l.Tier == "" {
				l.Tier = TierPublic
			}
		}
		if ch.HeadAgreement == 0 {
			ch.HeadAgreement = min(2, ch.Operators())
		}
	}
}

// Operators is the number of distinct operators among the chain's
// admitted providers, those that vote on the head (a provider without an
// operator label counts as its own operator).
func (c *Chain) Operators() int {
	seen := make(map[string]bool, len(c.Providers))
	for _, p := range c.Providers {
		if p.AdmissionStage() != StageAdmitted {
			continue
		}
		op := strings.ToLower(strings.TrimSpace(p.Labels.Operator))
		if op == "" {
			op = p.Name
		}
		seen[op] = true
	}
	return len(seen)
}
