package config

import "testing"

// TestPrivacyRouting: the policy is off by default; on globally or for one
// chain, whose routing block inherits the keys it leaves out.
func TestPrivacyRouting(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		on        bool
		share     float64
		addresses int
	}{
		{"default off", chainDoc("", provA), false, DefaultPrivacyMaxShare, DefaultPrivacyAddresses},
		{"global", "routing:\n  privacy: spread\n  privacy_max_share: 0.25\n" + chainDoc("", provA), true, 0.25, DefaultPrivacyAddresses},
		{"chain inherits", "routing:\n  privacy_max_share: 0.2\n" + chainDoc("    routing:\n      privacy: spread\n      privacy_addresses: 50\n", provA), true, 0.2, 50},
		{"chain turns off", "routing:\n  privacy: spread\n" + chainDoc("    routing:\n      privacy: off\n", provA), false, DefaultPrivacyMaxShare, DefaultPrivacyAddresses},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, tc.src)
			r := cfg.Chains[0].EffectiveRouting(cfg.Routing)
			if r.PrivacyOn() != tc.on || r.PrivacyMaxShare != tc.share || r.PrivacyAddresses != tc.addresses || r.PrivacyClients != DefaultPrivacyClients {
				t.Fatalf("effective routing: privacy %q share %g addresses %d clients %d", r.Privacy, r.PrivacyMaxShare, r.PrivacyAddresses, r.PrivacyClients)
			}
		})
	}
}
