// Package rules is omnitriage's policy as data: sourcing rule groups, auto-apply
// thresholds and guards, fraud / refund / compensation limits and SLA targets.
//
// A policy is a YAML file. Load decodes it strictly (unknown fields are errors),
// validates every value, compiles guard expressions and reports every problem with the
// file line it came from. A loaded policy is identified by Version, a hash of its
// canonical content, which every decision records. The package imports nothing else of
// omnitriage; a *Policy is read-only once loaded and safe for concurrent use.
package rules

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// defaultPolicy is the policy shipped with the binary. Embedding needs a package-level
// variable; it is a string so it cannot be modified.
//
//go:embed default.yaml
var defaultPolicy string

// DefaultName is the name the embedded default policy is loaded under.
const DefaultName = "default.yaml"

// Policy is a validated, versioned policy. Treat it as read-only: Evaluate relies on
// the guards compiled at load time.
type Policy struct {
	// Name is the file name the policy was loaded from; it prefixes error messages.
	Name string `json:"-" yaml:"-"`
	// Version is "p-" and the first 12 hex digits of the sha256 of the canonical
	// content. Comments and layout do not change it.
	Version string `json:"-" yaml:"-"`

	Sourcing Sourcing       `json:"sourcing" yaml:"sourcing"`
	Decision DecisionPolicy `json:"decision" yaml:"decision"`
	Limits   Limits         `json:"limits" yaml:"limits"`
	SLA      SLA            `json:"sla" yaml:"sla"`

	guards []compiledGuard
}

// Default loads the policy embedded in the binary.
func Default() (*Policy, error) {
	p, err := Load(DefaultName, []byte(defaultPolicy))
	if err != nil {
		return nil, fmt.Errorf("rules.Default: %w", err)
	}
	return p, nil
}

// DefaultYAML returns the source of the embedded default policy, a starting point for a
// site's own policy file.
func DefaultYAML() []byte {
	return []byte(defaultPolicy)
}

// LoadFile reads and loads the policy file at path. Problems are reported against the
// file's base name.
func LoadFile(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err) // the PathError names the file
	}
	p, err := Load(filepath.Base(path), data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Load parses, validates and versions a policy. name is used in error messages. An
// invalid policy yields a *LoadError listing every problem as "name:line: path: msg".
func Load(name string, data []byte) (*Policy, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, &LoadError{Problems: []Problem{problemFromYAML(name, nil, err)}}
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		return nil, &LoadError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("want exactly one YAML document, got %d", nonEmptyDocs(file.Docs))}}}
	}
	body := file.Docs[0].Body
	idx := newNodeIndex(body)

	p := &Policy{Name: name}
	if err := yaml.NodeToValue(body, p, yaml.Strict()); err != nil {
		return nil, &LoadError{Problems: []Problem{problemFromYAML(name, idx, err)}}
	}

	c := &checker{file: name, idx: idx}
	p.Sourcing.check(c)
	p.guards = p.Decision.check(c)
	p.Limits.check(c)
	p.SLA.check(c)
	if err := c.err(); err != nil {
		return nil, err
	}

	canon, err := p.Canonical()
	if err != nil {
		return nil, fmt.Errorf("policy %s cannot be written in canonical form: %w", name, err)
	}
	sum := sha256.Sum256(canon)
	p.Version = "p-" + hex.EncodeToString(sum[:])[:12]
	return p, nil
}

// Canonical returns the canonical bytes of the policy: its normalised content as JSON
// with fields in declaration order and map keys sorted. Version hashes these bytes, so
// two files that differ only in comments, quoting or layout share a version.
func (p *Policy) Canonical() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep guard expressions such as "a <= b" readable
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("canonical form of policy %s: %w", p.Name, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func nonEmptyDocs(docs []*ast.DocumentNode) int {
	n := 0
	for _, d := range docs {
		if d != nil && d.Body != nil {
			n++
		}
	}
	return n
}
