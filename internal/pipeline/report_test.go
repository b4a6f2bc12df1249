package pipeline_test

import (
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

func TestReportHeader(t *testing.T) {
	var r *pipeline.Report
	r.Set(pipeline.ClassProof, "") // nil-safe
	r.MarkAgreedHeader()
	r = &pipeline.Report{}
	if r.Header() != "" {
		t.Fatal("empty report has a header")
	}
	r.Set(pipeline.ClassQuorum, `range "big"`, "b", "a", "a", "")
	if got := r.Header(); got != `quorum; operators=a,b; note="range 'big'"` {
		t.Fatalf("header %q", got)
	}
	r.MarkAgreedHeader() // counts for a proof only
	if got := r.Header(); got != `quorum; operators=a,b; note="range 'big'"` {
		t.Fatalf("header %q", got)
	}
	r.Set(pipeline.ClassProof, "", "a")
	if got := r.Header(); got != `proof; operators=a; header=agreed` {
		t.Fatalf("header %q", got)
	}
}
