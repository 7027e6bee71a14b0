package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

type testLine struct {
	SKU   string   `json:"sku"`
	Qty   int      `json:"qty"`
	Price *float64 `json:"price,omitempty"`
}

type testEmbedded struct {
	Kind string `json:"kind"`
}

type testRequest struct {
	testEmbedded
	Name    string         `json:"name"`
	Message string         `json:"message"`
	When    *time.Time     `json:"when,omitempty"`
	ID      uuid.UUID      `json:"id"`
	Lines   []testLine     `json:"lines"`
	Tags    map[string]int `json:"tags"`
	Payload map[string]any `json:"payload"`
	Small   int8           `json:"small"`
	OK      bool           `json:"ok"`
}

// fieldOf returns the one field and reason err names, failing otherwise.
func fieldOf(t *testing.T, err error) (string, string) {
	t.Helper()
	var ve *derrors.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		t.Fatalf("error %v is not a validation error naming a field", err)
	}
	return ve.Fields[0].Field, ve.Fields[0].Reason
}

func TestDecodeBytesNamesFieldsInPlainWords(t *testing.T) {
	tests := []struct {
		body, field, reason string
	}{
		{`{"lines":[{"sku":"A","qty":1},{"sku":"B","qty":"two"}]}`, "lines[1].qty", "must be a whole number, not a string"},
		{`{"lines":[{"sku":"A","qty":1.5}]}`, "lines[0].qty", "must be a whole number"},
		{`{"lines":{"sku":"A"}}`, "lines", "must be a JSON list […], not an object"},
		{`{"when":"tomorrow"}`, "when", "must be a date-time like 2026-12-24T18:00:00Z"},
		{`{"when":12}`, "when", "must be a date-time like"},
		{`{"id":"nope"}`, "id", "must be a UUID"},
		{`{"lines":[{"sku":"A","qty":1,"colour":"red"}]}`, "lines[0].colour", "unknown field"},
		{`{"kind":7}`, "kind", "must be a string, not a number"},
		{`{"tags":{"a":1,"b":"x"}}`, "tags.b", "must be a whole number, not a string"},
		{`{"small":300}`, "small", "must be a whole number within ±127"},
		{`{"ok":"yes"}`, "ok", "must be true or false, not a string"},
		{`{"lines":[{"sku":"A","price":"9.99"}]}`, "lines[0].price", "must be a number, not a string"},
		{`[1,2]`, "(body)", "must be a JSON object {…}, not a list"},
		{`{"name":"x"`, "(body)", "ends before the JSON value does"},
		{`{"name":x}`, "(body)", "is not valid JSON at line 1, column"},
		{``, "(body)", "is empty"},
		{`{"name":"x"} {"name":"y"}`, "(body)", "has data after the JSON value"},
	}
	for _, tt := range tests {
		var req testRequest
		field, reason := fieldOf(t, DecodeBytes([]byte(tt.body), &req))
		if field != tt.field || !strings.Contains(reason, tt.reason) {
			t.Errorf("DecodeBytes(%s) = %s: %s, want %s: …%s…", tt.body, field, reason, tt.field, tt.reason)
		}
		for _, goWord := range []string{"orchestration.", "web.", "[]", "2006-01-02", "Go value", "int8", "float64", "time.Time"} {
			if strings.Contains(reason, goWord) && !strings.Contains(tt.reason, goWord) {
				t.Errorf("DecodeBytes(%s) reason %q speaks Go (%s)", tt.body, reason, goWord)
			}
		}
	}
}

// hostile are strings no field may hold, as JSON string literals (raw bytes
// where JSON cannot escape them).
var hostile = []struct{ name, literal string }{
	{"NUL", `"a\u0000b"`},
	{"SOH", `"a\u0001b"`},
	{"ESC", `"a\u001bb"`},
	{"DEL", `"a` + "\x7f" + `b"`},
	{"DEL escaped", `"a\u007fb"`},
	{"C1 NEL", `"a\u0085b"`},
	{"invalid byte", "\"a\xffb\""},
	{"truncated sequence", "\"a\xe2\x82\""},
	{"overlong slash", "\"a\xc0\xafb\""},
	{"UTF-8 surrogate", "\"a\xed\xa0\x80b\""},
	{"lone high surrogate", `"a\ud800b"`},
	{"lone low surrogate", `"a\udc00"`},
	{"reversed pair", `"\udc00\ud800"`},
	{"RTL override", `"abc\u202egnp.exe"`},
	{"isolate", `"a\u2066b"`},
	{"noncharacter", `"a\uffffb"`},
	{"very long", `"` + strings.Repeat("x", MaxFreeText+1) + `"`},
}

func TestDecodeBytesRefusesHostileText(t *testing.T) {
	for _, h := range hostile {
		for _, tmpl := range []struct{ body, field string }{
			{`{"name":%s}`, "name"},
			{`{"message":%s}`, "message"},
			{`{"kind":%s}`, "kind"}, // a field of an embedded struct
			{`{"lines":[{"sku":"A"},{"sku":%s}]}`, "lines[1].sku"},
			{`{"payload":{"deep":[1,{"x":%s}]}}`, "payload.deep[1].x"},
			{`{"tags":{%s:1}}`, "tags"},
		} {
			body := strings.Replace(tmpl.body, "%s", h.literal, 1)
			var req testRequest
			err := DecodeBytes([]byte(body), &req)
			if err == nil {
				t.Errorf("%s in %s: accepted as %+v", h.name, tmpl.field, req)
				continue
			}
			field, _ := fieldOf(t, err)
			if field != tmpl.field || derrors.Status(err) != http.StatusUnprocessableEntity {
				t.Errorf("%s in %s: %v (status %d), want 422 naming %s", h.name, tmpl.field, err, derrors.Status(err), tmpl.field)
			}
		}
	}
}

func TestDecodeBytesKeepsGoodText(t *testing.T) {
	tests := []struct {
		body string
		want testRequest
	}{
		{`{"name":"Zoë <script>alert(1)</script> 😀 \ud83d\ude00","message":"line 1\nline 2\tend\r\n"}`,
			testRequest{Name: "Zoë <script>alert(1)</script> 😀 😀", Message: "line 1\nline 2\tend\r\n"}},
		{`{"name":"عربي \u200f שלום"}`, testRequest{Name: "عربي \u200f שלום"}},
		{`{"payload":{"text":"a\nb"}}`, testRequest{Payload: map[string]any{"text": "a\nb"}}},
	}
	for _, tt := range tests {
		var got testRequest
		if err := DecodeBytes([]byte(tt.body), &got); err != nil {
			t.Errorf("DecodeBytes(%s) = %v, want it accepted", tt.body, err)
			continue
		}
		if got.Name != tt.want.Name || got.Message != tt.want.Message {
			t.Errorf("DecodeBytes(%s) = %q, %q, want %q, %q", tt.body, got.Name, got.Message, tt.want.Name, tt.want.Message)
		}
	}
	// A tab or line break outside free text is refused.
	var req testRequest
	if field, _ := fieldOf(t, DecodeBytes([]byte(`{"name":"a\nb"}`), &req)); field != "name" {
		t.Errorf("a line break in name: field %s, want name", field)
	}
}

func TestCheckParams(t *testing.T) {
	tests := []struct {
		path, field string // field "" means accepted
	}{
		{"/things/abc?limit=5", ""},
		{"/things/Zo%C3%AB?q=%3Cscript%3E", ""},
		{"/things/a%00b", "code"},
		{"/things/a%FFb", "code"},
		{"/things/a%ED%A0%80", "code"},
		{"/things/a%E2%80%AEb", "code"},
		{"/things/a%7Fb", "code"},
		{"/things/abc?limit=%00", "limit"},
		{"/things/abc?after=%C0%AF", "after"},
		{"/things/abc?x%00=1", "(query)"},
		{"/things/abc?a=%zz", "(query)"},
		{"/things/abc?a=1%0A", "a"},
	}
	for _, tt := range tests {
		r := chi.NewRouter()
		called := false
		r.Get("/things/{code}", Errors{}.H(func(w http.ResponseWriter, r *http.Request) error {
			called = true
			return nil
		}))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		r.ServeHTTP(rec, req)
		if tt.field == "" {
			if !called || rec.Code != http.StatusOK {
				t.Errorf("GET %s = %d (handler called %t), want it served", tt.path, rec.Code, called)
			}
			continue
		}
		if called || rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"`+tt.field+`"`) {
			t.Errorf("GET %s = %d %s (handler called %t), want 422 naming %s", tt.path, rec.Code, rec.Body, called, tt.field)
		}
	}
}
