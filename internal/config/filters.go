package config

import "time"

// Filters bounds the filters the gateway keeps for its clients
// (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
// polled with eth_getFilterChanges; docs/filters.md). The bounds hold per
// chain; a client is one remote IP address.
type Filters struct {
	MaxPerClient int      `yaml:"max_per_client"` // 64 filters installed by one client at once
	MaxTotal     int      `yaml:"max_total"`      // 4096 filters per chain
	MaxChanges   int      `yaml:"max_changes"`    // 10000 changes waiting in one filter; past it the filter is removed
	Timeout      Duration `yaml:"timeout"`        // 5m without eth_getFilterChanges removes a filter (go-ethereum's default)
}

// DefaultFilters returns the default filter bounds.
func DefaultFilters() Filters {
	return Filters{MaxPerClient: 64, MaxTotal: 4096, MaxChanges: 10000, Timeout: Duration(5 * time.Minute)}
}

func (v *validator) filters(f *Filters) {
	v.atLeastOne("filters.max_per_client", int64(f.MaxPerClient))
	v.atLeastOne("filters.max_total", int64(f.MaxTotal))
	v.atLeastOne("filters.max_changes", int64(f.MaxChanges))
	v.positive("filters.timeout", f.Timeout)
	if f.MaxPerClient > f.MaxTotal && f.MaxTotal > 0 {
		v.errorf("filters.max_per_client", "%d is over filters.max_total (%d)", f.MaxPerClient, f.MaxTotal)
	}
}
