package triage

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

func TestEmbeddedLibraryValid(t *testing.T) {
	lib, err := ParseLibrary("causes.yaml", libraryYAML)
	if err != nil {
		t.Fatalf("ParseLibrary(embedded) = %v", err)
	}
	if len(lib) != 42 {
		t.Errorf("embedded library has %d causes, want the 42 it was made from", len(lib))
	}
	// Parameters read as they will from the database: numbers as float64.
	for _, c := range lib {
		for a, p := range c.Params {
			for k, v := range p {
				if _, isInt := v.(int); isInt {
					t.Errorf("%s.params.%s.%s = %T, want JSON's types", c.Code, a, k, v)
				}
			}
		}
	}
	if h := lib[0].Params["hold"]["hours"]; h != 48.0 {
		t.Errorf("card_expired.params.hold.hours = %v (%T), want 48.0", h, h)
	}
}

// oneCause is a valid library of one cause, to break one field at a time.
const oneCause = `causes:
  - code: gift_card_frozen
    kind: payment_failed
    title: Gift card frozen
    description: The gift card provider froze the card.
    default_action: notify
    actions: [notify, hold]
    params:
      notify: {template: payment_update_card}
    examples:
      - {code: FROZEN, message: "Gift card 6006-1234 is frozen (order A-1)"}
`

func TestParseLibraryProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"unknown action", strings.Replace(oneCause, "actions: [notify, hold]", "actions: [notify, teleport]", 1),
			[]string{"causes[0] (gift_card_frozen).actions[1]: want one of"}},
		{"unknown default action", strings.Replace(oneCause, "default_action: notify", "default_action: pray", 1),
			[]string{"causes[0] (gift_card_frozen).default_action: want one of", "(gift_card_frozen).actions: must start with the default action"}},
		{"empty examples", strings.Split(oneCause, "    examples:")[0] + "    examples: []\n",
			[]string{"causes[0] (gift_card_frozen).examples: at least one example"}},
		{"example without a message", strings.Replace(oneCause, `message: "Gift card 6006-1234 is frozen (order A-1)"`, `message: "  "`, 1),
			[]string{"causes[0] (gift_card_frozen).examples[0].message: required"}},
		{"duplicate cause code", oneCause + strings.TrimPrefix(oneCause, "causes:\n"),
			[]string{"causes[1] (gift_card_frozen).code: duplicate cause code, first at causes[0]"}},
		{"unknown kind", strings.Replace(oneCause, "kind: payment_failed", "kind: payment_faild", 1),
			[]string{"(gift_card_frozen).kind: want one of"}},
		{"bad code", strings.Replace(oneCause, "code: gift_card_frozen", "code: Gift-Card", 1),
			[]string{"causes[0] (Gift-Card).code: want lower_snake_case"}},
		{"params of an unlisted action", strings.Replace(oneCause, "notify: {template", "retry: {template", 1),
			[]string{"(gift_card_frozen).params.retry: parameters for an action the cause does not list"}},
		{"unknown field", strings.Replace(oneCause, "    title:", "    titel: x\n    title:", 1),
			[]string{"titel"}},
		{"wrong type", strings.Replace(oneCause, "actions: [notify, hold]", "actions: notify", 1),
			[]string{"x.yaml: [7:14]", "sequence"}},
		{"not YAML", "causes: [", []string{"x.yaml"}},
		{"no causes", "causes: []\n", []string{"at least one cause"}},
		{"empty file", "", []string{"at least one cause"}},
	}
	for _, tt := range tests {
		_, err := ParseLibrary("x.yaml", []byte(tt.yaml))
		if err == nil || !errors.Is(err, derrors.Invalid) {
			t.Errorf("%s: ParseLibrary = %v, want an Invalid error", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: ParseLibrary = %v\nwant it to contain %q", tt.name, err, w)
			}
		}
	}
	lib, err := ParseLibrary("x.yaml", []byte(oneCause))
	if err != nil || len(lib) != 1 || lib[0].Title != "Gift card frozen" || len(lib[0].Examples) != 1 {
		t.Errorf("ParseLibrary(valid) = %+v, %v", lib, err)
	}
	// JSON is YAML: a library written as JSON reads the same.
	js := `{"causes": [{"code": "gift_card_frozen", "kind": "payment_failed", "title": "Gift card frozen",
		"default_action": "notify", "examples": [{"code": "FROZEN", "message": "Gift card 6006-1234 is frozen"}]}]}`
	if lib, err := ParseLibrary("x.json", []byte(js)); err != nil || !slices.Equal(lib[0].Actions, []string{"notify"}) {
		t.Errorf("ParseLibrary(JSON) = %+v, %v; want actions defaulting to [notify]", lib, err)
	}
}

// TestLoadLibraryFile: a retailer's file adds a cause and replaces one of
// the built-in ones in place; a bad file stops with the variable's name.
func TestLoadLibraryFile(t *testing.T) {
	base := Library()
	dir := t.TempDir()
	path := filepath.Join(dir, "causes.yaml")
	override := strings.Replace(oneCause, "code: gift_card_frozen", "code: card_expired", 1)
	extra := strings.TrimPrefix(oneCause, "causes:\n")
	if err := os.WriteFile(path, []byte(override+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	lib, err := LoadLibrary(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(lib) != len(base)+1 {
		t.Fatalf("LoadLibrary = %d causes, want %d", len(lib), len(base)+1)
	}
	i := slices.IndexFunc(lib, func(c SeedCause) bool { return c.Code == "card_expired" })
	if i != slices.IndexFunc(base, func(c SeedCause) bool { return c.Code == "card_expired" }) || lib[i].Title != "Gift card frozen" {
		t.Errorf("card_expired = #%d %q, want replaced in place", i, lib[i].Title)
	}
	if last := lib[len(lib)-1]; last.Code != "gift_card_frozen" {
		t.Errorf("last cause = %s, want the added gift_card_frozen", last.Code)
	}
	if base[i].Title == "Gift card frozen" || len(Library()) != len(base) {
		t.Errorf("LoadLibrary changed the embedded library")
	}
	if lib, err := LoadLibrary(""); err != nil || len(lib) != len(base) {
		t.Errorf("LoadLibrary(\"\") = %d causes, %v; want the embedded %d", len(lib), err, len(base))
	}
	if _, err := LoadLibrary(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "CAUSE_LIBRARY_FILE") {
		t.Errorf("LoadLibrary(missing) = %v, want an error naming CAUSE_LIBRARY_FILE", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(oneCause, "[notify, hold]", "[notify, fly]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLibrary(bad); err == nil || !strings.Contains(err.Error(), "CAUSE_LIBRARY_FILE") || !strings.Contains(err.Error(), "actions[1]") {
		t.Errorf("LoadLibrary(bad) = %v, want CAUSE_LIBRARY_FILE and actions[1] named", err)
	}
}

// FuzzParseLibrary: whatever the bytes, ParseLibrary returns without
// panicking, and what it accepts is a library the seed can write: every
// cause valid, codes unique, each with an example message.
func FuzzParseLibrary(f *testing.F) {
	f.Add(libraryYAML)
	f.Add([]byte(oneCause))
	f.Add([]byte(`{"causes": [{"code": "a", "kind": "stockout", "title": "t", "default_action": "reroute", "examples": [{"message": "m"}]}]}`))
	f.Add([]byte("causes:\n  - code: x\n    params: {notify: {a: [1, {b: 2}]}}\n"))
	f.Add([]byte("causes: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lib, err := ParseLibrary("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, derrors.Invalid) {
				t.Fatalf("ParseLibrary error %v is not Invalid", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range lib {
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted cause %q: %v", c.Code, err)
			}
			if seen[c.Code] {
				t.Fatalf("accepted duplicate cause %q", c.Code)
			}
			seen[c.Code] = true
			if len(c.Examples) == 0 {
				t.Fatalf("accepted cause %q without examples", c.Code)
			}
			for _, e := range c.Examples {
				if strings.TrimSpace(e.Message) == "" {
					t.Fatalf("accepted an empty example of %q", c.Code)
				}
			}
		}
	})
}

// TestREADMECauseExample keeps the README's example entry true: it parses,
// and its examples are enough for the seed (distinct after masking).
func TestREADMECauseExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "### The cause library")
	if i < 0 {
		t.Fatal("README has no cause library section")
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README's cause library section has no yaml block")
	}
	lib, err := ParseLibrary("README.md", []byte(s[start+8:start+8+end]))
	if err != nil {
		t.Fatalf("README's example: %v", err)
	}
	distinct := map[string]bool{}
	for _, e := range lib[0].Examples {
		distinct[ExceptionText(lib[0].Kind, e.Code, e.Message)] = true
	}
	if len(distinct) < minSeedExamples {
		t.Errorf("README's example has %d distinct examples after masking, want %d", len(distinct), minSeedExamples)
	}
	if n := len(MergeLibrary(Library(), lib)); n != len(Library())+1 {
		t.Errorf("the README's cause merged into the library gives %d causes, want %d", n, len(Library())+1)
	}
}
