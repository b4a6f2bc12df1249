package config

import "time"

// Filters bounds the filters the gateway keeps for its clients
// (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
// polled with eth_getFilterChanges; docs/filters.md). The bounds hold per
// chain; a client is one remote IP address.
type Filters struct {
	MaxPerClient int `yaml:"max_per_client"` // 64 filters installed by one client at once
	MaxTotal     int `yaml:"max_total"`      // 1024 filters per chain
	MaxChanges   int `yaml:"max_changes"`    // 10000 changes waiting in one filter; past it the filter is removed
	// MaxChangesBytes bounds the bytes of the changes waiting in one
	// filter, 4 MiB, at most limits.max_response_bytes (one poll answers
	// them all); past it the filter is removed.
	MaxChangesBytes int64 `yaml:"max_changes_bytes"`
	// MaxTotalBytes bounds the bytes waiting in all of a chain's filters
	// together, 64 MiB; past it the filter with the most waiting is removed.
	MaxTotalBytes int64    `yaml:"max_total_bytes"`
	Timeout       Duration `yaml:"timeout"` // 5m without eth_getFilterChanges removes a filter (go-ethereum's default)
}

// DefaultFilters returns the default filter bounds.
func DefaultFilters() Filters {
	return Filters{MaxPerClient: 64, MaxTotal: 1024, MaxChanges: 10000, MaxChangesBytes: 4 << 20, MaxTotalBytes: 64 << 20, Timeout: Duration(5 * time.Minute)}
}

func (v *validator) filters(f *Filters, maxResponse int64) {
	v.atLeastOne("filters.max_per_client", int64(f.MaxPerClient))
	v.atLeastOne("filters.max_total", int64(f.MaxTotal))
	v.atLeastOne("filters.max_changes", int64(f.MaxChanges))
	v.atLeastOne("filters.max_changes_bytes", f.MaxChangesBytes)
	if maxResponse > 0 && f.MaxChangesBytes > maxResponse {
		v.errorf("filters.max_changes_bytes", "%d is over limits.max_response_bytes (%d): one poll answers every change waiting", f.MaxChangesBytes, maxResponse)
	}
	v.atLeastOne("filters.max_total_bytes", f.MaxTotalBytes)
	if f.MaxChangesBytes > f.MaxTotalBytes && f.MaxTotalBytes > 0 {
		v.errorf("filters.max_changes_bytes", "%d is over filters.max_total_bytes (%d)", f.MaxChangesBytes, f.MaxTotalBytes)
	}
	v.positive("filters.timeout", f.Timeout)
	if f.MaxPerClient > f.MaxTotal && f.MaxTotal > 0 {
		v.errorf("filters.max_per_client", "%d is over filters.max_total (%d)", f.MaxPerClient, f.MaxTotal)
	}
}
