package jsonrpc

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		batch     bool
		wholeCode int   // expected whole-body error code, 0 for none
		itemCodes []int // per call, 0 = valid
		ids       []string
	}{
		{name: "single", body: `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`, itemCodes: []int{0}, ids: []string{"1"}},
		{name: "string id and params", body: ` {"jsonrpc":"2.0","id":"a","method":"eth_getBalance","params":["0x1","latest"]}`, itemCodes: []int{0}, ids: []string{`"a"`}},
		{name: "null id", body: `{"jsonrpc":"2.0","id":null,"method":"m"}`, itemCodes: []int{0}, ids: []string{"null"}},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"m"}`, itemCodes: []int{0}, ids: []string{""}},
		{name: "parse error", body: `{"jsonrpc":"2.0",`, wholeCode: CodeParseError},
		{name: "trailing garbage", body: `{"jsonrpc":"2.0","id":1,"method":"m"} x`, wholeCode: CodeParseError},
		{name: "empty body", body: ``, wholeCode: CodeParseError},
		{name: "scalar body", body: `42`, wholeCode: CodeInvalidRequest},
		{name: "empty batch", body: `[]`, batch: true, wholeCode: CodeInvalidRequest},
		{name: "batch parse error", body: `[{"jsonrpc":"2.0","method":"m"},`, batch: true, wholeCode: CodeParseError},
		{name: "wrong version", body: `{"jsonrpc":"1.0","id":1,"method":"m"}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"1"}},
		{name: "missing version", body: `{"id":1,"method":"m"}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"1"}},
		{name: "method not string", body: `{"jsonrpc":"2.0","id":1,"method":5}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"1"}},
		{name: "empty method", body: `{"jsonrpc":"2.0","id":1,"method":""}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"1"}},
		{name: "object id", body: `{"jsonrpc":"2.0","id":{},"method":"m"}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"null"}},
		{name: "bool id", body: `{"jsonrpc":"2.0","id":true,"method":"m"}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"null"}},
		{name: "scalar params", body: `{"jsonrpc":"2.0","id":2,"method":"m","params":"x"}`, itemCodes: []int{CodeInvalidParams}, ids: []string{"2"}},
		{name: "null params", body: `{"jsonrpc":"2.0","id":2,"method":"m","params":null}`, itemCodes: []int{0}, ids: []string{"2"}},
		{name: "invalid notification answered", body: `{"jsonrpc":"2.0","method":7}`, itemCodes: []int{CodeInvalidRequest}, ids: []string{"null"}},
		{
			name:      "mixed batch",
			body:      `[{"jsonrpc":"2.0","id":1,"method":"a"}, 1, {"jsonrpc":"2.0","method":"n"}, {"foo":"bar"}]`,
			batch:     true,
			itemCodes: []int{0, CodeInvalidRequest, 0, CodeInvalidRequest},
			ids:       []string{"1", "", "", "null"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, batch, err := Decode([]byte(tt.body))
			if batch != tt.batch {
				t.Errorf("batch = %v, want %v", batch, tt.batch)
			}
			if tt.wholeCode != 0 {
				if err == nil || err.Code != tt.wholeCode {
					t.Fatalf("whole error = %v, want code %d", err, tt.wholeCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected whole error %v", err)
			}
			if len(calls) != len(tt.itemCodes) {
				t.Fatalf("got %d calls, want %d", len(calls), len(tt.itemCodes))
			}
			for i, c := range calls {
				code := 0
				if c.Err != nil {
					code = c.Err.Code
				}
				if code != tt.itemCodes[i] {
					t.Errorf("call %d: code %d, want %d (%v)", i, code, tt.itemCodes[i], c.Err)
				}
				if got := string(c.Req.ID); got != tt.ids[i] {
					t.Errorf("call %d: id %q, want %q", i, got, tt.ids[i])
				}
			}
		})
	}
}

func TestEncode(t *testing.T) {
	rs := []Response{
		NewResult(json.RawMessage(`1`), json.RawMessage(`"0x10"`)),
		NewError(nil, Errorf(CodeMethodNotFound, "method %q not found", "x")),
		NewResult(json.RawMessage(`"b"`), nil),
	}
	got := string(EncodeBatch(rs, true))
	want := `[{"jsonrpc":"2.0","id":1,"result":"0x10"},{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"method \"x\" not found"}},{"jsonrpc":"2.0","id":"b","result":null}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Fatal("invalid JSON")
	}
	if EncodeBatch(nil, true) != nil {
		t.Fatal("empty batch must encode to nothing")
	}
	single := string(EncodeBatch(rs[:1], false))
	if single != `{"jsonrpc":"2.0","id":1,"result":"0x10"}` {
		t.Fatalf("single: %s", single)
	}
}

func TestDeeplyNested(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"m","params":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	_, _, err := Decode([]byte(body))
	if err == nil || err.Code != CodeParseError {
		t.Fatalf("deep nesting: got %v, want parse error", err)
	}
}

func TestParamsArray(t *testing.T) {
	items, err := ParamsArray(json.RawMessage(` ["0x1", {"a":1}] `))
	if err != nil || len(items) != 2 || string(items[1]) != `{"a":1}` {
		t.Fatalf("got %v %v", items, err)
	}
	if _, err := ParamsArray(json.RawMessage(`{"a":1}`)); err == nil || err.Code != CodeInvalidParams {
		t.Fatalf("object params: %v", err)
	}
	if got := string(EncodeParams(items)); got != `["0x1",{"a":1}]` {
		t.Fatalf("encode: %s", got)
	}
}

// TestAppendValidParamsArray: on valid JSON it splits as AppendParamsArray
// does, errors included.
func TestAppendValidParamsArray(t *testing.T) {
	for _, params := range []string{
		``, `null`, ` null `, `[]`, ` [ ] `, `["0x1","latest"]`, ` [ "0x1" , {"a":[1,{"b":"]"}]} , null ] `,
		`[[],[[]],""]`, `{"a":1}`, `"x"`, `7`,
	} {
		want, wantErr := AppendParamsArray(nil, json.RawMessage(params))
		got, gotErr := AppendValidParamsArray(nil, json.RawMessage(params))
		if len(got) != len(want) || (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Code != wantErr.Code) {
			t.Errorf("%q: got %q %v, want %q %v", params, got, gotErr, want, wantErr)
			continue
		}
		for i := range got {
			if string(got[i]) != string(want[i]) {
				t.Errorf("%q: element %d is %s, want %s", params, i, got[i], want[i])
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a","params":[]},{"jsonrpc":"2.0","method":"b"}]`,
		`[]`, `[1,2]`, `{"jsonrpc":"2.0","id":{},"method":"m"}`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		calls, batch, err := Decode(body)
		if err != nil {
			if len(calls) != 0 {
				t.Fatal("whole-body error with calls")
			}
			out := EncodeBatch([]Response{NewError(nil, err)}, false)
			if !json.Valid(out) {
				t.Fatalf("invalid error encoding %s", out)
			}
			return
		}
		if !batch && len(calls) != 1 {
			t.Fatalf("single body gave %d calls", len(calls))
		}
		rs := make([]Response, 0, len(calls))
		for _, c := range calls {
			if c.Err == nil && c.Req.Method == "" {
				t.Fatal("valid call without method")
			}
			if c.Err == nil && c.Req.Params != nil && !json.Valid(c.Req.Params) {
				t.Fatal("invalid params kept")
			}
			if c.Err != nil {
				rs = append(rs, NewError(c.Req.ID, c.Err))
			} else if !c.Req.IsNotification() {
				rs = append(rs, NewResult(c.Req.ID, c.Req.Params))
			}
		}
		if out := EncodeBatch(rs, batch); out != nil && !json.Valid(out) {
			t.Fatalf("response is not valid JSON: %s", out)
		}
	})
}

// TestScanMatchesEncodingJSON checks the reflection-free paths against
// encoding/json on inputs where they must agree.
func TestScanMatchesEncodingJSON(t *testing.T) {
	bodies := []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`,
		` { "jsonrpc" : "2.0" , "id" : "a\"b" , "method" : "m" , "params" : { "x" : [1, {"y": "]}"}] } } `,
		`{"id":null,"jsonrpc":"2.0","method":"m","params":null,"extra":{"a":[1,2,"x"]}}`,
		`{"id":1,"id":2,"jsonrpc":"2.0","method":"m"}`,
		`{"ID":1,"jsonrpc":"2.0","method":"m"}`,
		`{"jsonrpc":"2.0","\u0069d":7,"method":"m"}`,
		`{}`,
		`{"jsonrpc":"2.0","id":-1.5e3,"method":"m","params":[true,false,null,-0.1,"\\"]}`,
	}
	for _, b := range bodies {
		var want wireRequest
		if err := json.Unmarshal([]byte(b), &want); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		var got wireRequest
		if scanRequest([]byte(b), &got) {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("scanRequest(%s) = %+v, want %+v", b, got, want)
			}
		} else if !strings.Contains(b, `\u`) && !strings.Contains(b, `"ID"`) {
			t.Errorf("scanRequest(%s) fell back", b)
		}
	}
	arrays := []string{`[]`, ` [ 1 , "a,]" , {"b":[2,3]} , [ ] , null ] `, `["0x1","latest"]`, `[{"a":"\\\""}]`}
	for _, a := range arrays {
		var want []json.RawMessage
		if err := json.Unmarshal([]byte(a), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := splitArray([]byte(a))
		if !ok || len(got) != len(want) {
			t.Fatalf("splitArray(%s) = %q, %v; want %q", a, got, ok, want)
		}
		for i := range got {
			if string(got[i]) != string(want[i]) {
				t.Errorf("splitArray(%s)[%d] = %s, want %s", a, i, got[i], want[i])
			}
		}
	}
}

// FuzzScan checks the reflection-free scanners against encoding/json on any
// valid JSON: where they answer, they must agree.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1","latest"]}`,
		`[1,"a,]",{"b":[2,3]},[],null]`, `{"Id":1}`, `{"id":"\"}"}`, `[]`, `{}`,
		`[{"jsonrpc":"2.0","id":7,"result":"0x1"},{"id":8,"error":{"code":-32000,"message":"x"}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var want wireRequest
		if json.Unmarshal(b, &want) == nil {
			var got wireRequest
			if scanRequest(b, &got) && !reflect.DeepEqual(got, want) {
				t.Fatalf("scanRequest(%s) = %+v, want %+v", b, got, want)
			}
		}
		var items []json.RawMessage
		if json.Unmarshal(b, &items) == nil && items != nil { // null leaves items nil
			got, ok := splitArray(b)
			if !ok || len(got) != len(items) {
				t.Fatalf("splitArray(%s) = %q, %v; want %q", b, got, ok, items)
			}
			for i := range got {
				if string(got[i]) != string(items[i]) {
					t.Fatalf("splitArray(%s)[%d] = %s, want %s", b, i, got[i], items[i])
				}
			}
		}
		var answers []struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if got, ok := ScanResponses(b); ok {
			if err := json.Unmarshal(b, &answers); err != nil || len(answers) != len(got) {
				t.Fatalf("ScanResponses(%s) = %q, but encoding/json: %v, %d answers", b, got, err, len(answers))
			}
			for i, a := range answers {
				if string(got[i].ID) != string(a.ID) || string(got[i].Result) != string(a.Result) || string(got[i].Error) != string(a.Error) {
					t.Fatalf("ScanResponses(%s)[%d] = %q, want %q", b, i, got[i], a)
				}
			}
		}
	})
}
