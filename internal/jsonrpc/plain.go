package jsonrpc

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
)

// Plain renders an error for a client in plain words: the errors of
// encoding/json, strconv and encoding/hex name Go types and functions
// ("json: cannot unmarshal object into Go value of type
// []json.RawMessage", "strconv.ParseUint: …"), which say nothing to a
// client and show the gateway's internals. They are recognised by type,
// never by text; any other error is shown as it is.
func Plain(err error) string {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		numErr    *strconv.NumError
		byteErr   hex.InvalidByteError
		invalid   *json.InvalidUnmarshalError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &typeErr):
		return typeMismatch(typeErr)
	case errors.As(err, &syntaxErr):
		return "invalid JSON at byte " + strconv.FormatInt(syntaxErr.Offset, 10) + " (" + syntaxErr.Error() + ")"
	case errors.As(err, &numErr):
		if errors.Is(numErr.Err, strconv.ErrRange) {
			return "number " + strconv.Quote(numErr.Num) + " is out of range"
		}
		return strconv.Quote(numErr.Num) + " is not a valid number"
	case errors.As(err, &byteErr), errors.Is(err, hex.ErrLength):
		return "invalid hex string"
	case errors.As(err, &invalid):
		return "internal error"
	}
	return err.Error()
}

// typeMismatch says what a value should have been, in JSON's terms. A
// type that decodes itself (go-ethereum's hex types) puts its own plain
// reason in Value.
func typeMismatch(e *json.UnmarshalTypeError) string {
	at := ""
	if e.Field != "" {
		at = " at " + strconv.Quote(e.Field)
	}
	got, isKind := jsonKinds[e.Value]
	if e.Type != nil && e.Type.Kind() == reflect.Array && e.Type.Elem().Kind() == reflect.Uint8 {
		// A fixed-size hex value (an address, a hash): its decoder's reason
		// names the Go type.
		return "expected a 0x-prefixed hex string of " + strconv.Itoa(e.Type.Len()) + " bytes" + at
	}
	if !isKind {
		if len(e.Value) > 7 && e.Value[:7] == "number " { // "number 1.5" into an integer
			return "invalid number " + e.Value[7:] + at
		}
		return e.Value + at
	}
	want := "another type"
	if e.Type != nil {
		switch e.Type.Kind() {
		case reflect.Slice, reflect.Array:
			want = "an array"
			if e.Type.Elem().Kind() == reflect.Uint8 {
				want = "a hex string"
			}
		case reflect.Struct, reflect.Map:
			want = "an object"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			want = "a number"
		}
	}
	return "expected " + want + at + ", got " + got
}

// jsonKinds are the values encoding/json reports for a mismatched JSON value.
var jsonKinds = map[string]string{
	"string": "a string", "number": "a number", "object": "an object", "array": "an array", "bool": "true or false", "null": "null",
}
