package rules

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Problem is one thing wrong with a policy file, located by line and by the path of the
// offending value (for example "sourcing.groups[1].filters[0]").
type Problem struct {
	File string
	Line int
	Path string
	Msg  string
}

// String formats the problem as "file:line: path: message", the shape editors and CI
// logs link to.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// LoadError lists every problem found while loading a policy, in line order. Load
// reports all problems at once so an author fixes a file in one pass.
type LoadError struct {
	Problems []Problem
}

// Error joins the problems, one per line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// nodeIndex maps the paths of a parsed YAML document to lines, and token positions back
// to paths, so that errors found after decoding can still name the line they came from.
type nodeIndex struct {
	lines map[string]int    // path -> line
	paths map[string]string // "line:column" of a key or value token -> path
}

func newNodeIndex(root ast.Node) *nodeIndex {
	idx := &nodeIndex{lines: map[string]int{}, paths: map[string]string{}}
	idx.walk(root, "")
	return idx
}

func posKey(tk *token.Token) string {
	if tk == nil || tk.Position == nil {
		return ""
	}
	return strconv.Itoa(tk.Position.Line) + ":" + strconv.Itoa(tk.Position.Column)
}

func (idx *nodeIndex) add(path string, line int, tokens ...*token.Token) {
	if _, ok := idx.lines[path]; !ok && line > 0 {
		idx.lines[path] = line
	}
	for _, tk := range tokens {
		if k := posKey(tk); k != "" {
			idx.paths[k] = path
		}
	}
}

func (idx *nodeIndex) walk(n ast.Node, path string) {
	switch n := n.(type) {
	case *ast.DocumentNode:
		idx.walk(n.Body, path)
	case *ast.AnchorNode:
		idx.walk(n.Value, path)
	case *ast.TagNode:
		idx.walk(n.Value, path)
	case *ast.MappingNode:
		for _, mv := range n.Values {
			idx.walk(mv, path)
		}
	case *ast.MappingValueNode:
		key := n.Key.GetToken()
		name := ""
		if key != nil {
			name = key.Value
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		idx.add(p, nodeLine(n), key, n.Value.GetToken())
		idx.walk(n.Value, p)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			idx.add(p, nodeLine(v), v.GetToken())
			idx.walk(v, p)
		}
	}
}

// line returns the line of path, or of its nearest ancestor when the path itself is not
// in the file (a missing field is reported where its parent is).
func (idx *nodeIndex) line(path string) int {
	for path != "" {
		if l, ok := idx.lines[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return 0
}

// pathOf returns the path of the node holding tk, or "".
func (idx *nodeIndex) pathOf(tk *token.Token) string {
	return idx.paths[posKey(tk)]
}

// nodeLine is the line a node starts on. For a mapping that is the line of its first key
// rather than of the token the parser happened to keep.
func nodeLine(n ast.Node) int {
	switch n := n.(type) {
	case nil:
		return 0
	case *ast.MappingNode:
		if len(n.Values) > 0 {
			return nodeLine(n.Values[0])
		}
	case *ast.MappingValueNode:
		if tk := n.Key.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line
		}
	case *ast.AnchorNode:
		return nodeLine(n.Value)
	case *ast.TagNode:
		return nodeLine(n.Value)
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// problemFromYAML turns a goccy/go-yaml error into a Problem with line and path.
func problemFromYAML(file string, idx *nodeIndex, err error) Problem {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return Problem{File: file, Msg: err.Error()}
	}
	p := Problem{File: file, Msg: ye.GetMessage()}
	var te *yaml.TypeError
	if errors.As(err, &te) && te.DstType != nil && te.SrcType != nil {
		p.Msg = fmt.Sprintf("want %s, got %s", typeName(te.DstType), typeName(te.SrcType))
	}
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		p.Line = tk.Position.Line
		if idx != nil {
			p.Path = idx.pathOf(tk)
		}
	}
	return p
}

// typeName describes a Go type the way a policy author thinks of YAML values.
func typeName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration such as 24h or 90m"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// checker collects validation problems against one parsed file.
type checker struct {
	file     string
	idx      *nodeIndex
	problems []Problem
}

// errorf records a problem at path, located by the index.
func (c *checker) errorf(path, format string, args ...any) {
	c.errorAt(c.idx.line(path), path, format, args...)
}

// errorAt records a problem at an explicit line.
func (c *checker) errorAt(line int, path, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as a *LoadError, or nil.
func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	ps := append([]Problem(nil), c.problems...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return &LoadError{Problems: ps}
}

// fraction checks that v is a probability-like number in [0, 1].
func (c *checker) fraction(path string, v float64) {
	if v < 0 || v > 1 {
		c.errorf(path, "%g is out of range [0, 1]", v)
	}
}

// nonNegative checks that v is not negative.
func (c *checker) nonNegative(path string, v float64) {
	if v < 0 {
		c.errorf(path, "must not be negative, got %g", v)
	}
}

// oneOf checks that v is one of want.
func (c *checker) oneOf(path, what, v string, want []string) bool {
	for _, w := range want {
		if v == w {
			return true
		}
	}
	c.errorf(path, "unknown %s %q (want one of %s)", what, v, strings.Join(want, ", "))
	return false
}

// sortedKeys returns the keys of m in order, so problems come out deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
