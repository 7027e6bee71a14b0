package web

import (
	"bytes"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Canonical returns the canonical form of the JSON value in body: object
// members sorted by name, no insignificant whitespace, strings in one
// escaping, and numbers by value (1, 1.0, 1e0 and 10e-1 are all 1). Two bodies
// a client library could send for the same request have the same canonical
// form, so idempotency keys compare this rather than bytes. A body that is
// not JSON is its own canonical form.
func Canonical(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return body
	}
	var b bytes.Buffer
	writeCanonical(&b, v)
	return b.Bytes()
}

func writeCanonical(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, k)
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case json.Number:
		b.WriteString(canonicalNumber(string(x)))
	default: // string, bool, nil
		enc, _ := json.Marshal(x)
		b.Write(enc)
	}
}

// canonicalNumber writes a JSON number by its exact value: an integer in
// decimal, else the reduced fraction. A number with an absurd exponent is
// kept as sent rather than expanded.
func canonicalNumber(s string) string {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > 400 || exp < -400 {
			return s
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.String()
}
