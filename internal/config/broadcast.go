package config

import "time"

// Broadcast configures how eth_sendRawTransaction is sent and watched (see
// docs/transactions.md): fan-out to providers of distinct operators and
// clouds, the inclusion watch and its re-broadcasts, and where tracked
// transactions are kept across restarts.
type Broadcast struct {
	Fanout            int      `yaml:"fanout"`             // default 3 providers of distinct operators and clouds
	MaxTxBytes        int64    `yaml:"max_tx_bytes"`       // default 128 KiB (a transaction without blobs)
	MaxBlobTxBytes    int64    `yaml:"max_blob_tx_bytes"`  // default 1 MiB (a blob transaction with its sidecar)
	WatchInterval     Duration `yaml:"watch_interval"`     // default 2s between inclusion checks
	RebroadcastBlocks uint64   `yaml:"rebroadcast_blocks"` // default 3 blocks without propagation or inclusion
	ExpireAfter       Duration `yaml:"expire_after"`       // default 3h; a transaction still pending is then dropped from the watch
	MaxTracked        int      `yaml:"max_tracked"`        // default 10000 pending transactions watched per chain
	Store             string   `yaml:"store"`              // bbolt file for the watch; "" keeps it in memory only
}

// DefaultBroadcast returns the default broadcast settings.
func DefaultBroadcast() Broadcast {
	return Broadcast{
		Fanout:            3,
		MaxTxBytes:        128 << 10,
		MaxBlobTxBytes:    1 << 20,
		WatchInterval:     Duration(2 * time.Second),
		RebroadcastBlocks: 3,
		ExpireAfter:       Duration(3 * time.Hour),
		MaxTracked:        10000,
	}
}

func (v *validator) broadcast(b *Broadcast) {
	v.atLeastOne("broadcast.fanout", int64(b.Fanout))
	v.atLeastOne("broadcast.max_tx_bytes", b.MaxTxBytes)
	v.atLeastOne("broadcast.max_blob_tx_bytes", b.MaxBlobTxBytes)
	v.positive("broadcast.watch_interval", b.WatchInterval)
	v.atLeastOne("broadcast.rebroadcast_blocks", int64(b.RebroadcastBlocks))
	v.positive("broadcast.expire_after", b.ExpireAfter)
	v.atLeastOne("broadcast.max_tracked", int64(b.MaxTracked))
	if b.MaxBlobTxBytes > 0 && b.MaxBlobTxBytes < b.MaxTxBytes {
		v.errorf("broadcast.max_blob_tx_bytes", "%d is less than broadcast.max_tx_bytes (%d)", b.MaxBlobTxBytes, b.MaxTxBytes)
	}
}
