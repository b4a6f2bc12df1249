package incident

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/store"
)

// record is an incident as kept in the store, with the key of the
// condition it tracks (so that an open incident goes on after a restart).
type record struct {
	Key      string          `json:"key"`
	Incident status.Incident `json:"incident"`
}

// load reads the kept incidents: open ones become tracks again, ended ones
// the kept list (the newest Keep of them; older ones are deleted).
func (d *Detector) load() error {
	if d.opt.Store == nil {
		return nil
	}
	var recs []record
	err := d.opt.Store.Each(Bucket, func(_ string, v []byte) error {
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("incident record: %w", err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load incidents: %w", err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Incident.End.After(recs[j].Incident.End) })
	for _, r := range recs {
		inc := r.Incident
		if inc.Open() {
			d.tracks[r.Key] = &track{key: r.Key, chain: inc.Chain, since: inc.Start, inc: &inc,
				cond: condition{kind: inc.Kind}}
			continue
		}
		if len(d.ended) < d.opt.Keep {
			d.ended = append(d.ended, inc)
			continue
		}
		d.forget(inc.ID)
	}
	return nil
}

// persist writes inc; a store that fails is logged, not fatal: the
// incident still shows and is sent.
func (d *Detector) persist(key string, inc *status.Incident) {
	if d.opt.Store == nil {
		return
	}
	if err := d.opt.Store.Put(Bucket, inc.ID, record{Key: key, Incident: *inc}); err != nil {
		d.opt.Logger.Error("incident not kept", "id", inc.ID, "err", err)
	}
}

// forget deletes an incident no longer kept.
func (d *Detector) forget(id string) {
	if d.opt.Store == nil {
		return
	}
	if err := d.opt.Store.Delete(Bucket, id); err != nil {
		d.opt.Logger.Error("incident not deleted", "id", id, "err", err)
	}
}

// Attach keeps incidents in db from now on, after reading those it holds.
// Call it before the first Evaluate.
func (d *Detector) Attach(db *store.DB) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opt.Store = db
	return d.load()
}
