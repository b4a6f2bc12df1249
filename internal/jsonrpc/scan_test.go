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
