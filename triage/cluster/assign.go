package cluster

import "strings"

// Assigner places new messages in existing clusters between full runs:
// the cluster whose template the message fits, else the nearest centroid
// of its key when it is close enough. It is what keeps counts current
// without waiting for the next run.
type Assigner struct {
	groups  []Group
	byShape map[shapeKey][]int // templates by key and length
	byRun   map[runKey][]int   // templates by key and collapsed form
	byKey   map[Key][]int
	minSim  float64
}

type shapeKey struct {
	key Key
	n   int
}

type runKey struct {
	key Key
	c   string
}

// NewAssigner indexes groups for Assign; minSim is the centroid cosine a
// message without a fitting template needs (DefaultConfig's
// MergeSimilarity is a good choice).
func NewAssigner(groups []Group, minSim float64) *Assigner {
	a := &Assigner{groups: groups, byShape: map[shapeKey][]int{}, byRun: map[runKey][]int{}, byKey: map[Key][]int{}, minSim: minSim}
	for i, g := range groups {
		sk := shapeKey{g.Key, len(g.Template)}
		a.byShape[sk] = append(a.byShape[sk], i)
		rk := runKey{g.Key, collapse(g.Template)}
		a.byRun[rk] = append(a.byRun[rk], i)
		a.byKey[g.Key] = append(a.byKey[g.Key], i)
	}
	return a
}

// Assign returns the index of m's group in the groups NewAssigner was
// given, or -1 when none fits: then m starts a cluster of its own.
func (a *Assigner) Assign(m Message) int {
	toks := Tokens(m.Text)
	for _, i := range a.byShape[shapeKey{m.Key, len(toks)}] {
		if fits(a.groups[i].Template, toks) {
			return i
		}
	}
	// A message whose wildcard run is longer or shorter than the
	// template's ("copied <*> <*> files").
	if ids := a.byRun[runKey{m.Key, collapse(toks)}]; len(ids) > 0 {
		return ids[0]
	}
	if m.Vector == nil {
		return -1
	}
	best, bestSim := -1, a.minSim
	for _, i := range a.byKey[m.Key] {
		g := a.groups[i]
		if len(g.Template) == len(toks) {
			// One length was compared token by token above; a word
			// differs, and no similarity overrules that.
			continue
		}
		if s := dot(g.Centroid, m.Vector); s >= bestSim {
			best, bestSim = i, s
		}
	}
	return best
}

// fits reports whether toks matches template at every literal.
func fits(template, toks []string) bool {
	for i, t := range template {
		if t != Wildcard && !strings.EqualFold(t, toks[i]) {
			return false
		}
	}
	return true
}
