package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEncodeLimited: answers past the total result size limit become
// limit-exceeded errors, in order; errors and earlier answers stay.
func TestEncodeLimited(t *testing.T) {
	big := json.RawMessage(`"` + strings.Repeat("a", 100) + `"`)
	responses := func() []Response {
		return []Response{
			NewResult(json.RawMessage(`1`), big),
			NewError(json.RawMessage(`2`), Errorf(CodeInvalidParams, "bad")),
			NewResult(json.RawMessage(`3`), big),
			NewResult(json.RawMessage(`4`), big),
		}
	}
	tests := []struct {
		name  string
		limit int64
		codes []int // per response: 0 a result
	}{
		{"no limit", 0, []int{0, CodeInvalidParams, 0, 0}},
		{"room for two", 250, []int{0, CodeInvalidParams, 0, CodeLimitExceeded}},
		{"room for one", 150, []int{0, CodeInvalidParams, CodeLimitExceeded, CodeLimitExceeded}},
		{"room for none", 10, []int{CodeLimitExceeded, CodeInvalidParams, CodeLimitExceeded, CodeLimitExceeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []struct {
				ID     json.RawMessage `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  *Error          `json:"error"`
			}
			if err := json.Unmarshal(EncodeLimited(responses(), true, tt.limit), &got); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.codes {
				switch {
				case string(got[i].ID) != string(responses()[i].ID):
					t.Fatalf("response %d has id %s", i, got[i].ID)
				case want == 0 && (got[i].Error != nil || len(got[i].Result) == 0):
					t.Fatalf("response %d: %+v, want a result", i, got[i])
				case want != 0 && (got[i].Error == nil || got[i].Error.Code != want):
					t.Fatalf("response %d: %+v, want code %d", i, got[i], want)
				}
			}
		})
	}
}
