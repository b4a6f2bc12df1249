package server

import (
	"strconv"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// VerifiedHeader says how an answer was established: "proof", "quorum" or
// "trusted", the operators whose answers it rests on, and a note when a
// proof fell back to quorum, e.g. "proof; operators=blocklabs". A batch
// gets one header line per answered call, prefixed with the call's index in
// the batch: "[2] quorum; operators=a,b".
const VerifiedHeader = "X-Rpcmesh-Verified"

// setVerified writes the verification header from the calls' reports (nil
// when the chain does not verify).
func setVerified(h headerSetter, reports []*pipeline.Report, batch bool) {
	for i, r := range reports {
		if r == nil {
			continue
		}
		v := r.Header()
		if v == "" {
			continue
		}
		if !batch {
			h.Set(VerifiedHeader, v)
			return
		}
		h.Add(VerifiedHeader, "["+strconv.Itoa(i)+"] "+v)
	}
}
