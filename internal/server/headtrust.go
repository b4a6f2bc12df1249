package server

import (
	"strconv"

	"github.com/rpcmesh/rpcmesh/internal/chain"
)

// HeadHeader says on what trust the chain's head stood when the answer was
// made: "agreed; operators=2" when head_agreement distinct operators vouch
// for the head block, "degraded; operators=1; required=2" when the head is
// followed on fewer because the others stopped reporting (see
// docs/verification.md). Absent while the chain has no head.
const HeadHeader = "X-Rpcmesh-Head"

// StaleHeader says why an answer may be stale, present only then:
// "head-frozen; age=12s" when the chain's agreed head has stood for more
// than incidents.frozen_blocks block times (the chain halted, or the
// operators agreeing on the head stopped while another goes on),
// "degraded; operators=1; required=2" when the head is followed on fewer
// operators than head_agreement (see docs/incidents.md).
const StaleHeader = "X-Rpcmesh-Stale"

// setHeadTrust writes the head and stale headers for chain c.
func setHeadTrust(h headerSetter, c *chain.Chain) {
	if tr := c.Trust(); tr.Head {
		h.Set(HeadHeader, headTrustValue(tr))
	}
	if s := c.Stale(); s != "" {
		h.Set(StaleHeader, s)
	}
}

// headTrustValue is the HeadHeader value for tr.
func headTrustValue(tr chain.Trust) string {
	if tr.Degraded {
		return "degraded; operators=" + strconv.Itoa(tr.Operators) + "; required=" + strconv.Itoa(tr.Required)
	}
	return "agreed; operators=" + strconv.Itoa(tr.Operators)
}
