package triage

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// libraryYAML is the seeded cause library, data rather than code: a
// retailer extends it with CAUSE_LIBRARY_FILE, without a Go build.
//
//go:embed causes.yaml
var libraryYAML []byte

// SeedExample is one labelled message of the seeded library, as the outside
// system would send it.
type SeedExample struct {
	Code    string `yaml:"code" json:"code"`
	Message string `yaml:"message" json:"message"`
}

// SeedCause is a cause with the example messages it is seeded with.
type SeedCause struct {
	Cause
	Examples []SeedExample
}

// libraryFile is the shape of causes.yaml and of a CAUSE_LIBRARY_FILE.
type libraryFile struct {
	Causes []libraryEntry `yaml:"causes"`
}

// libraryEntry is one cause as written in a library file.
type libraryEntry struct {
	Code          string                    `yaml:"code"`
	Kind          string                    `yaml:"kind"`
	Title         string                    `yaml:"title"`
	Description   string                    `yaml:"description"`
	DefaultAction string                    `yaml:"default_action"`
	Actions       []string                  `yaml:"actions"`
	Params        map[string]map[string]any `yaml:"params"`
	Examples      []SeedExample             `yaml:"examples"`
}

// embedded parses the embedded library once.
var embedded = sync.OnceValues(func() ([]SeedCause, error) { return ParseLibrary("causes.yaml", libraryYAML) })

// Library returns the embedded cause library: every exception kind has
// several causes, each with example messages phrased as gateways, carriers,
// WMS and ERP systems phrase them. The embedded file is checked by the
// tests and at start (LoadLibrary); Library panics if it is invalid, a
// broken build.
func Library() []SeedCause {
	lib, err := embedded()
	if err != nil {
		panic(err)
	}
	return append([]SeedCause(nil), lib...)
}

// LoadLibrary returns the embedded library extended by the library file at
// path (none when path is ""): a cause of the file replaces the embedded
// cause with its code, the others are added after the embedded ones. Both
// are checked; the error names the file, the entry and the field.
func LoadLibrary(path string) ([]SeedCause, error) {
	base, err := embedded()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return append([]SeedCause(nil), base...), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CAUSE_LIBRARY_FILE: %w", err)
	}
	extra, err := ParseLibrary(path, data)
	if err != nil {
		return nil, fmt.Errorf("CAUSE_LIBRARY_FILE: %w", err)
	}
	return MergeLibrary(base, extra), nil
}

// MergeLibrary returns base with extra's causes: one with a code in base
// replaces it where it stands, the others are appended in extra's order.
func MergeLibrary(base, extra []SeedCause) []SeedCause {
	out := append([]SeedCause(nil), base...)
	at := map[string]int{}
	for i, c := range out {
		at[c.Code] = i
	}
	for _, c := range extra {
		if i, ok := at[c.Code]; ok {
			out[i] = c
			continue
		}
		at[c.Code] = len(out)
		out = append(out, c)
	}
	return out
}

// ParseLibrary reads a cause library file (YAML, or JSON, which is YAML)
// named name and checks every entry: fields it does not know, a cause that
// fails Cause.Validate (code, kind, title, actions, params), a duplicate
// code, no examples or an example without a message. All problems are
// reported at once, one per line, each naming the entry by index and code
// and the field, like `causes[3] (card_expired).actions[1]: ...`.
func ParseLibrary(name string, data []byte) ([]SeedCause, error) {
	f, err := decodeLibrary(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, err, derrors.Invalid)
	}
	if len(f.Causes) == 0 {
		return nil, fmt.Errorf("%s: causes: at least one cause: %w", name, derrors.Invalid)
	}
	var problems []string
	bad := func(i int, code, field, format string, args ...any) {
		at := fmt.Sprintf("causes[%d]", i)
		if code != "" {
			at += " (" + code + ")"
		}
		if field != "" {
			at += "." + field
		}
		problems = append(problems, at+": "+fmt.Sprintf(format, args...))
	}
	seen := map[string]int{}
	out := make([]SeedCause, 0, len(f.Causes))
	for i, e := range f.Causes {
		c := SeedCause{Cause: Cause{Code: e.Code, Kind: e.Kind, Title: e.Title, Description: e.Description,
			DefaultAction: e.DefaultAction, Actions: e.Actions}, Examples: e.Examples}
		if len(c.Actions) == 0 && c.DefaultAction != "" {
			c.Actions = []string{c.DefaultAction}
		}
		params, err := normalParams(e.Params)
		if err != nil {
			bad(i, e.Code, "params", "%v", err)
		}
		c.Params = params
		var ve *derrors.ValidationError
		if err := c.Validate(); errors.As(err, &ve) {
			for _, fe := range ve.Fields {
				bad(i, e.Code, fe.Field, "%s", fe.Reason)
			}
		} else if err != nil {
			bad(i, e.Code, "", "%v", err)
		}
		if j, ok := seen[e.Code]; ok && e.Code != "" {
			bad(i, e.Code, "code", "duplicate cause code, first at causes[%d]", j)
		} else {
			seen[e.Code] = i
		}
		if len(c.Examples) == 0 {
			bad(i, e.Code, "examples", "at least one example message (the seed needs %d distinct after masking)", minSeedExamples)
		}
		for j, x := range c.Examples {
			if strings.TrimSpace(x.Message) == "" {
				bad(i, e.Code, fmt.Sprintf("examples[%d].message", j), "required")
			}
			if len(x.Code) > 200 || len(x.Message) > 4000 {
				bad(i, e.Code, fmt.Sprintf("examples[%d]", j), "code at most 200 bytes, message at most 4000")
			}
		}
		out = append(out, c)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s:\n%s: %w", name, strings.Join(problems, "\n"), derrors.Invalid)
	}
	return out, nil
}

// decodeLibrary decodes a library file strictly (unknown fields are
// errors). The YAML decoder panics on some malformed input (found by
// FuzzParseLibrary, e.g. a tag on a value it cannot hold); that is
// reported as an error like any other, never a crash.
func decodeLibrary(data []byte) (f libraryFile, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("not a readable YAML library (the decoder failed: %v)", r)
		}
	}()
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.DisallowUnknownField()); err != nil {
		return libraryFile{}, errors.New(yaml.FormatError(err, false, false))
	}
	return f, nil
}

// normalParams gives the parameters the types they have once stored as
// JSON (numbers float64, maps map[string]any), whatever YAML decoded them
// to, so a cause's parameters read the same from the file as from the
// database.
func normalParams(p map[string]map[string]any) (map[string]map[string]any, error) {
	if len(p) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	var out map[string]map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
