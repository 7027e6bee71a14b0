package cluster

import (
	"slices"
	"strings"
)

// Prior is a cluster of the previous run, as the store keeps it.
type Prior struct {
	ID       string
	Key      Key
	Template string
	Centroid []float32
}

// Identity says which previous cluster a group of this run continues.
type Identity struct {
	// ID is the previous cluster's id the group keeps, "" for a new one.
	ID string
	// MergedFrom lists the other previous clusters whose members the group
	// took in: they merged into ID.
	MergedFrom []string
	// SplitFrom is the previous cluster a new group broke away from, when
	// another group kept that cluster's id.
	SplitFrom string
}

// Match gives each group of a run its identity. prevOf(i) is the previous
// cluster of message i, "" when message i is new. A group keeps the id of
// the previous cluster most of its returning members came from, unless a
// bigger share of that cluster went to another group; a group with
// members of several previous clusters records the others as merged into
// it, and one that got members of a cluster whose id another group kept
// records a split. A group of new messages only continues a previous
// cluster with its key and template, or, failing that, with a centroid at
// least minSim alike. So one noisy run does not renumber the clusters.
func Match(prev []Prior, groups []Group, prevOf func(int) string, minSim float64) []Identity {
	out := make([]Identity, len(groups))
	// counts[g][p]: members of group g that were in previous cluster p.
	counts := make([]map[string]int, len(groups))
	best := map[string]int{} // previous cluster -> group that holds most of it
	bestN := map[string]int{}
	for g, grp := range groups {
		c := map[string]int{}
		for _, i := range grp.Members {
			if p := prevOf(i); p != "" {
				c[p]++
			}
		}
		counts[g] = c
		for _, p := range sortedKeys(c) {
			if n := c[p]; n > bestN[p] || n == bestN[p] && len(groups[g].Members) > len(groups[best[p]].Members) {
				best[p], bestN[p] = g, n
			}
		}
	}
	taken := map[string]bool{}
	for g := range groups {
		c := counts[g]
		var own []string // previous clusters this group holds most of
		for _, p := range sortedKeys(c) {
			if best[p] == g {
				own = append(own, p)
			}
		}
		if len(own) == 0 {
			// Its returning members (if any) belong mostly elsewhere.
			if p := largest(c); p != "" {
				out[g].SplitFrom = p
			}
			continue
		}
		slices.SortStableFunc(own, func(a, b string) int { return c[b] - c[a] })
		out[g].ID = own[0]
		out[g].MergedFrom = own[1:]
		taken[own[0]] = true
		for _, p := range own[1:] {
			taken[p] = true
		}
	}
	// Groups of new messages only: the same template, then the nearest
	// centroid, among previous clusters no group continues.
	for g, grp := range groups {
		if out[g].ID != "" || out[g].SplitFrom != "" {
			continue
		}
		tmpl := grp.TemplateString()
		bestP, bestSim := -1, minSim
		for pi, p := range prev {
			if taken[p.ID] || p.Key != grp.Key {
				continue
			}
			if strings.EqualFold(p.Template, tmpl) {
				bestP, bestSim = pi, 2
				break
			}
			if len(strings.Fields(p.Template)) != len(grp.Template) {
				if s := dot(p.Centroid, grp.Centroid); s >= bestSim {
					bestP, bestSim = pi, s
				}
			}
		}
		if bestP >= 0 {
			out[g].ID = prev[bestP].ID
			taken[prev[bestP].ID] = true
		}
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func largest(m map[string]int) string {
	best, n := "", 0
	for _, k := range sortedKeys(m) {
		if m[k] > n {
			best, n = k, m[k]
		}
	}
	return best
}
