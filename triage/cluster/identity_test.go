package cluster

import (
	"fmt"
	"slices"
	"testing"
)

func TestMatchKeepsIDsWithNewMessages(t *testing.T) {
	// A first run, then a second over the same messages plus 10% new ones:
	// every cluster keeps its id.
	var texts []string
	for i := range 100 {
		texts = append(texts, fmt.Sprintf("carrier api timeout for shipment %d", i), fmt.Sprintf("stock feed rejected for sku SKU-%d", i))
	}
	first := Run(messages(t, texts...), DefaultConfig())
	prevOf := map[int]string{}
	var prev []Prior
	for g, grp := range first {
		id := fmt.Sprintf("c%d", g)
		prev = append(prev, Prior{ID: id, Key: grp.Key, Template: grp.TemplateString(), Centroid: grp.Centroid})
		for _, i := range grp.Members {
			prevOf[i] = id
		}
	}
	for i := range 20 {
		texts = append(texts, fmt.Sprintf("stock feed rejected for sku SKU-9%d", i))
	}
	second := Run(messages(t, texts...), DefaultConfig())
	ids := Match(prev, second, func(i int) string { return prevOf[i] }, DefaultConfig().MergeSimilarity)
	for g, grp := range second {
		want := prevOf[grp.Members[0]]
		if ids[g].ID != want || len(ids[g].MergedFrom) > 0 || ids[g].SplitFrom != "" {
			t.Errorf("Match: group %q = %+v, want id %q and no merge or split", grp.TemplateString(), ids[g], want)
		}
	}
}

func TestMatchRecordsMergeAndSplit(t *testing.T) {
	groups := []Group{
		{Template: []string{"a"}, Members: []int{0, 1, 2, 3}}, // all of p1 and p2: a merge
		{Template: []string{"b"}, Members: []int{4, 5, 6}},    // most of p3
		{Template: []string{"c"}, Members: []int{7}},          // the rest of p3: a split
		{Template: []string{"d"}, Members: []int{8}},          // new, same template as p4
	}
	prevOf := []string{"p1", "p1", "p1", "p2", "p3", "p3", "p3", "p3", ""}
	prev := []Prior{{ID: "p1"}, {ID: "p2"}, {ID: "p3"}, {ID: "p4", Template: "d"}}
	got := Match(prev, groups, func(i int) string { return prevOf[i] }, 0.9)
	want := []Identity{{ID: "p1", MergedFrom: []string{"p2"}}, {ID: "p3", MergedFrom: []string{}}, {SplitFrom: "p3"}, {ID: "p4"}}
	for g := range want {
		if got[g].ID != want[g].ID || got[g].SplitFrom != want[g].SplitFrom || !slices.Equal(got[g].MergedFrom, want[g].MergedFrom) {
			t.Errorf("Match: group %d = %+v, want %+v", g, got[g], want[g])
		}
	}
}
