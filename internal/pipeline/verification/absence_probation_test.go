package verification

import "testing"

// TestProbationNullIsNoVote: a null from a provider on probation does not
// make a thing absent; an admitted provider's does.
func TestProbationNullIsNoVote(t *testing.T) {
	var ab absence
	ab.took(Answer{Provider: "new", Operator: "newop", Probation: true})
	ab.null(Answer{Provider: "new", Operator: "newop", Probation: true})
	if ab.unknown() || len(ab.nullOps) != 0 {
		t.Fatalf("after a probation provider's null: absent %v, null operators %v; want nothing established", ab.unknown(), ab.nullOps)
	}
	ab.took(Answer{Provider: "a", Operator: "aop"})
	ab.null(Answer{Provider: "a", Operator: "aop"})
	if !ab.unknown() || !ab.nullOps["aop"] || ab.nullOps["newop"] {
		t.Fatalf("after an admitted provider's null: absent %v, null operators %v; want aop alone", ab.unknown(), ab.nullOps)
	}
}
