package jsonrpc

import "testing"

func TestPrefixValueEnd(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{`"ab"`, 4},
		{`"a\"b"`, 6},
		{`"ab`, -1},
		{`{"id":1}`, 8},
		{`{"id":1`, -1},
		{`[1,[2]]`, 7},
		{`[1,[2]`, -1},
		{`12,`, 2},
		{`12`, -1}, // the number may go on
		{`null}`, 4},
		{`nul`, -1},
		{``, -1},
	}
	for _, c := range cases {
		if got := PrefixValueEnd([]byte(c.in), 0); got != c.want {
			t.Errorf("PrefixValueEnd(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestScanLeavesFoldedNames: a member name that matches a field only
// case-insensitively (which encoding/json would fill) sends the scan back
// to encoding/json, for requests and answers alike; other unknown names do
// not.
func TestScanLeavesFoldedNames(t *testing.T) {
	for _, tc := range []struct {
		raw        string
		asResponse bool
		scanned    bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"m","extra":1}`, false, true},
		{`{"Jsonrpc":"2.0","id":1,"method":"m"}`, false, false},
		{`{"jsonrpc":"2.0","ID":1,"method":"m"}`, false, false},
		{`{"jsonrpc":"2.0","id":1,"Method":"m"}`, false, false},
		{`{"jsonrpc":"2.0","id":1,"method":"m","PARAMS":[]}`, false, false},
		{`{"jsonrpc":"2.0","id":1,"result":"0x1","extra":1}`, true, true},
		{`{"jsonrpc":"2.0","iD":1,"result":"0x1"}`, true, false},
		{`{"jsonrpc":"2.0","id":1,"Result":"0x1"}`, true, false},
		{`{"jsonrpc":"2.0","id":1,"ERROR":{}}`, true, false},
	} {
		var ok bool
		if tc.asResponse {
			_, ok = scanResponse([]byte(tc.raw))
		} else {
			ok = scanRequest([]byte(tc.raw), new(wireRequest))
		}
		if ok != tc.scanned {
			t.Errorf("%s: scanned %v, want %v", tc.raw, ok, tc.scanned)
		}
	}
}
