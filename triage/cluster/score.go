package cluster

import "fmt"

// Score compares a predicted grouping with the true one, message by
// message: pred[i] and truth[i] are message i's predicted group and true
// label. It is what `omnitriage eval cluster` prints.
type Score struct {
	// Messages is how many messages were scored.
	Messages int
	// GA, grouping accuracy, is the share of messages whose predicted group
	// has exactly the members of their true group.
	GA float64
	// Precision and Recall are the shares of predicted and of true groups
	// that match a group of the other side exactly; FGA is their harmonic
	// mean.
	Precision, Recall, FGA float64
	// Found and True count the predicted and the true groups.
	Found, True int
}

// Evaluate scores pred against truth. It returns an error when their
// lengths differ.
func Evaluate(pred []int, truth []string) (Score, error) {
	if len(pred) != len(truth) {
		return Score{}, fmt.Errorf("evaluate: %d predictions for %d labels", len(pred), len(truth))
	}
	trueSize := map[string]int{}
	for _, l := range truth {
		trueSize[l]++
	}
	type agg struct {
		size  int
		label string
		mixed bool
	}
	groups := map[int]*agg{}
	for i, p := range pred {
		a := groups[p]
		if a == nil {
			a = &agg{label: truth[i]}
			groups[p] = a
		}
		a.size++
		if truth[i] != a.label {
			a.mixed = true
		}
	}
	s := Score{Messages: len(pred), Found: len(groups), True: len(trueSize)}
	exact, covered := 0, 0
	for _, a := range groups {
		if !a.mixed && a.size == trueSize[a.label] {
			exact++
			covered += a.size
		}
	}
	if s.Messages > 0 {
		s.GA = float64(covered) / float64(s.Messages)
	}
	if s.Found > 0 {
		s.Precision = float64(exact) / float64(s.Found)
	}
	if s.True > 0 {
		s.Recall = float64(exact) / float64(s.True)
	}
	if s.Precision+s.Recall > 0 {
		s.FGA = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s, nil
}

// Labels turns groups into one predicted group number per message, for
// Evaluate; n is the number of messages Run was given.
func Labels(groups []Group, n int) []int {
	out := make([]int, n)
	for g, grp := range groups {
		for _, i := range grp.Members {
			out[i] = g
		}
	}
	return out
}
