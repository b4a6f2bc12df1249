package config

import "fmt"

// The privacy policy's names and defaults (routing.privacy, docs/privacy.md).
const (
	// PrivacySpread spreads each client's distinct addresses over operators.
	PrivacySpread = "spread"
	// PrivacyOff routes as if the policy did not exist (also "").
	PrivacyOff = "off"

	DefaultPrivacyMaxShare  = 0.3  // of a client's distinct addresses, per operator
	DefaultPrivacyAddresses = 1024 // addresses remembered per client
	DefaultPrivacyClients   = 1024 // clients remembered per chain

	// MaxPrivacyAddresses, MaxPrivacyClients and MaxPrivacyRemembered
	// bound what one chain's policy may remember. An address costs about
	// 90 bytes (route's BenchmarkPrivacyMemory): the defaults at most about
	// 90 MB, the largest allowed product about 1.5 GB.
	MaxPrivacyAddresses  = 1 << 20
	MaxPrivacyClients    = 1 << 16
	MaxPrivacyRemembered = 1 << 24 // privacy_addresses × privacy_clients
)

// PrivacyOn reports whether r turns the privacy policy on.
func (r Routing) PrivacyOn() bool { return r.Privacy == PrivacySpread }

// checkPrivacy checks the privacy keys of one routing block.
func checkPrivacy(r Routing) []routingProblem {
	var out []routingProblem
	bad := func(msg string, key string) { out = append(out, routingProblem{[]string{key}, msg}) }
	switch r.Privacy {
	case "", PrivacyOff, PrivacySpread:
	default:
		bad(fmt.Sprintf("must be %q or %q, got %q", PrivacySpread, PrivacyOff, r.Privacy), "privacy")
	}
	if !(r.PrivacyMaxShare > 0 && r.PrivacyMaxShare <= 1) {
		bad(fmt.Sprintf("must be in (0, 1], got %g", r.PrivacyMaxShare), "privacy_max_share")
	}
	if r.PrivacyAddresses < 1 || r.PrivacyAddresses > MaxPrivacyAddresses {
		bad(fmt.Sprintf("must be from 1 to %d, got %d", MaxPrivacyAddresses, r.PrivacyAddresses), "privacy_addresses")
	}
	if r.PrivacyClients < 1 || r.PrivacyClients > MaxPrivacyClients {
		bad(fmt.Sprintf("must be from 1 to %d, got %d", MaxPrivacyClients, r.PrivacyClients), "privacy_clients")
	} else if r.PrivacyAddresses >= 1 && r.PrivacyAddresses*r.PrivacyClients > MaxPrivacyRemembered {
		bad(fmt.Sprintf("%d clients of %d addresses each is over %d addresses in all (about 90 bytes each)",
			r.PrivacyClients, r.PrivacyAddresses, MaxPrivacyRemembered), "privacy_clients")
	}
	return out
}
