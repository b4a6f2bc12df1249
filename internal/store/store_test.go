package store

import (
	"path/filepath"
	"testing"
)

// TestReopen: records written before Close are read back after Open, in
// key order, and a deleted one is gone.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rpcmesh.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "a", "c"} {
		if err := db.Put("things", k, map[string]string{"k": k}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete("things", "c"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got []string
	err = db.Each("things", func(k string, v []byte) error {
		got = append(got, k+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`a={"k":"a"}`, `b={"k":"b"}`}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	if err := db.Each("none", func(string, []byte) error { t.Fatal("record in a missing bucket"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLocked: a second opener of the same file is refused with the
// path in the error, not left waiting.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rpcmesh.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("second open of a locked store succeeded")
	}
}
