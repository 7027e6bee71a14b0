package cluster

import (
	"math"
	"slices"
	"strings"
)

// Key keeps clusters apart: two messages of a different kind, error code
// or outside system never share a cluster, however alike their text.
type Key struct {
	Kind   string
	Code   string
	System string
}

// Message is one exception or log line to cluster.
type Message struct {
	Key  Key
	Text string
	// Vector is the message's embedding, L2-normalised; it may be nil, and
	// then the message takes no part in the embedding refinement.
	Vector []float32
}

// Config holds the engine's settings. One configuration serves every kind
// of message; DefaultConfig is the one the job and the backtest use.
type Config struct {
	// MinDistinct is how many distinct words a position must take, among
	// groups alike everywhere else, before it counts as a variable. Below it
	// the words are meaningful and keep their groups apart.
	MinDistinct int
	// MaxRepeat is the most messages a distinct word may stand for, on
	// average, at a variable position: ids and names are many and each
	// is rare, while the words that name a cause ("paused", "resumed")
	// are few and each is frequent.
	MaxRepeat float64
	// MergeSimilarity is the centroid cosine at or above which two groups
	// that are each other's nearest neighbour merge as paraphrases.
	MergeSimilarity float64
	// MemberSimilarity is the cosine to the merged centroid every member of
	// a merged group must keep; a merge that would leave one behind is
	// refused.
	MemberSimilarity float64
}

// DefaultConfig returns the configuration the clustering job and
// `omnitriage eval cluster` use.
func DefaultConfig() Config {
	return Config{MinDistinct: 4, MaxRepeat: 2, MergeSimilarity: 0.92, MemberSimilarity: 0.8}
}

// Group is one cluster found by Run.
type Group struct {
	Key Key
	// Template is the common token sequence, Wildcard for variables.
	Template []string
	// Members are indexes into Run's input, ascending.
	Members []int
	// Centroid is the normalised mean of the members' vectors, nil when
	// none had one.
	Centroid []float32
}

// TemplateString joins the template's tokens with spaces.
func (g Group) TemplateString() string { return strings.Join(g.Template, " ") }

// node is a group under construction.
type node struct {
	key     Key
	toks    []string
	members []int
}

// Run clusters msgs and returns the groups, largest first (ties by first
// member). Every message is in exactly one group.
func Run(msgs []Message, cfg Config) []Group {
	if cfg.MinDistinct < 2 {
		cfg.MinDistinct = 2
	}
	// Exact templates per key and length.
	type lenKey struct {
		key Key
		n   int
	}
	byLen := map[lenKey]map[string]*node{}
	var buf []string
	for i, m := range msgs {
		buf = appendTokens(buf[:0], m.Text)
		lk := lenKey{m.Key, len(buf)}
		exact := byLen[lk]
		if exact == nil {
			exact = map[string]*node{}
			byLen[lk] = exact
		}
		s := strings.Join(buf, "\x00")
		nd := exact[s]
		if nd == nil {
			nd = &node{key: m.Key, toks: slices.Clone(buf)}
			exact[s] = nd
		}
		nd.members = append(nd.members, i)
	}
	var nodes []*node
	for _, exact := range byLen {
		nodes = append(nodes, detectVariables(exact, cfg)...)
	}
	nodes = mergeRuns(nodes)
	groups := make([]Group, len(nodes))
	for i, nd := range nodes {
		slices.Sort(nd.members)
		groups[i] = Group{Key: nd.key, Template: nd.toks, Members: nd.members, Centroid: centroid(msgs, nd.members)}
	}
	groups = mergeParaphrases(msgs, groups, cfg)
	slices.SortFunc(groups, func(a, b Group) int {
		if len(a.Members) != len(b.Members) {
			return len(b.Members) - len(a.Members)
		}
		return a.Members[0] - b.Members[0]
	})
	return groups
}

// detectVariables merges the groups of one key and length that differ at a
// single position taking at least minDistinct values, until no position
// does. Templates compared are the current ones, so once a position is a
// variable, groups that differ at a second position line up there too.
func detectVariables(exact map[string]*node, cfg Config) []*node {
	cur := make([]*node, 0, len(exact))
	for _, nd := range exact {
		cur = append(cur, nd)
	}
	if len(cur) < 2 {
		return cur
	}
	n := len(cur[0].toks)
	for changed := true; changed; {
		changed = false
		for j := 0; j < n; j++ {
			buckets := map[string][]*node{}
			for _, nd := range cur {
				ctx := contextKey(nd.toks, j)
				buckets[ctx] = append(buckets[ctx], nd)
			}
			next := cur[:0:0]
			for _, b := range buckets {
				if len(b) < 2 || !isVariable(b, j, cfg) {
					next = append(next, b...)
					continue
				}
				merged := &node{key: b[0].key, toks: slices.Clone(b[0].toks)}
				merged.toks[j] = Wildcard
				for _, nd := range b {
					merged.members = append(merged.members, nd.members...)
				}
				next = append(next, merged)
				changed = true
			}
			cur = next
		}
	}
	return cur
}

// isVariable reports whether the groups in b, alike but at position j,
// take enough distinct values there for j to be a variable. A wildcard
// already there stands for many values.
func isVariable(b []*node, j int, cfg Config) bool {
	distinct, words, msgs := 0, 0, 0
	for _, nd := range b {
		if nd.toks[j] == Wildcard {
			distinct += cfg.MinDistinct
			continue
		}
		distinct++
		words++
		msgs += len(nd.members)
	}
	if distinct < cfg.MinDistinct {
		return false
	}
	return words == 0 || cfg.MaxRepeat <= 0 || float64(msgs) <= cfg.MaxRepeat*float64(words)
}

// contextKey is the template without position j.
func contextKey(toks []string, j int) string {
	var b strings.Builder
	for i, t := range toks {
		if i == j {
			b.WriteString("\x01")
		} else {
			b.WriteString(t)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// collapse joins runs of wildcards into one, so "copied <*> <*> files" and
// "copied <*> files" read alike.
func collapse(toks []string) string {
	var b strings.Builder
	prevWild := false
	for _, t := range toks {
		w := t == Wildcard
		if w && prevWild {
			continue
		}
		prevWild = w
		b.WriteString(t)
		b.WriteByte(0)
	}
	return b.String()
}

// mergeRuns merges groups of one key whose templates differ only in the
// length of their wildcard runs; the merged template is the shortest one.
func mergeRuns(nodes []*node) []*node {
	type ck struct {
		key Key
		c   string
	}
	by := map[ck]*node{}
	var out []*node
	for _, nd := range nodes {
		k := ck{nd.key, collapse(nd.toks)}
		if have := by[k]; have != nil {
			have.members = append(have.members, nd.members...)
			if len(nd.toks) < len(have.toks) {
				have.toks = nd.toks
			}
			continue
		}
		by[k] = nd
		out = append(out, nd)
	}
	return out
}

// centroid is the normalised mean of the members' vectors.
func centroid(msgs []Message, members []int) []float32 {
	var sum []float64
	for _, i := range members {
		v := msgs[i].Vector
		if v == nil {
			continue
		}
		if sum == nil {
			sum = make([]float64, len(v))
		}
		if len(v) != len(sum) {
			continue
		}
		for d, x := range v {
			sum[d] += float64(x)
		}
	}
	if sum == nil {
		return nil
	}
	var norm float64
	for _, x := range sum {
		norm += x * x
	}
	out := make([]float32, len(sum))
	if norm == 0 {
		return out
	}
	inv := 1 / math.Sqrt(norm)
	for d, x := range sum {
		out[d] = float32(x * inv)
	}
	return out
}

// dot is the cosine of two normalised vectors (0 when lengths differ).
func dot(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
