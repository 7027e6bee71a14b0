package cluster

// mergeParaphrases merges pairs of groups of one key that are each other's
// nearest neighbour by centroid, at least cfg.MergeSimilarity alike, whose
// templates do not differ in meaningful words alone, and whose members all
// stay within cfg.MemberSimilarity of the merged centroid. It makes one
// pass: a group merges at most once a run, so merging never chains.
func mergeParaphrases(msgs []Message, groups []Group, cfg Config) []Group {
	if cfg.MergeSimilarity <= 0 || cfg.MergeSimilarity > 1 {
		return groups
	}
	byKey := map[Key][]int{}
	for i, g := range groups {
		if g.Centroid != nil {
			byKey[g.Key] = append(byKey[g.Key], i)
		}
	}
	nearest := make([]int, len(groups))
	sim := make([]float64, len(groups))
	for i := range nearest {
		nearest[i] = -1
	}
	for _, idx := range byKey {
		if len(idx) < 2 {
			continue
		}
		for a, i := range idx {
			for _, j := range idx[a+1:] {
				s := dot(groups[i].Centroid, groups[j].Centroid)
				if nearest[i] < 0 || s > sim[i] {
					nearest[i], sim[i] = j, s
				}
				if nearest[j] < 0 || s > sim[j] {
					nearest[j], sim[j] = i, s
				}
			}
		}
	}
	gone := make([]bool, len(groups))
	for i := range groups {
		j := nearest[i]
		if j < 0 || j < i || nearest[j] != i || sim[i] < cfg.MergeSimilarity || gone[i] || gone[j] {
			continue
		}
		if sameShape(groups[i].Template, groups[j].Template) {
			continue
		}
		members := append(append([]int(nil), groups[i].Members...), groups[j].Members...)
		c := centroid(msgs, members)
		if !allClose(msgs, members, c, cfg.MemberSimilarity) {
			continue
		}
		keep, drop := i, j
		if len(groups[j].Members) > len(groups[i].Members) {
			keep, drop = j, i
		}
		groups[keep].Members = sortedUnion(groups[keep].Members, groups[drop].Members)
		groups[keep].Centroid = c
		gone[drop] = true
	}
	out := groups[:0]
	for i, g := range groups {
		if !gone[i] {
			out = append(out, g)
		}
	}
	return out
}

// sameShape reports whether two templates have one length: then the
// positional variable detection has already compared them token by token
// and kept them apart, because they differ in words that name the cause
// ("timeout" against "paused") or in a literal that stands where the other
// has a value; no similarity may overrule it. Paraphrases reword, and
// rewording changes the length.
func sameShape(a, b []string) bool {
	return len(a) == len(b)
}

func allClose(msgs []Message, members []int, c []float32, min float64) bool {
	for _, i := range members {
		if v := msgs[i].Vector; v != nil && dot(v, c) < min {
			return false
		}
	}
	return true
}

func sortedUnion(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		default:
			out = append(out, b[j])
			j++
		}
	}
	return out
}
