// Package sourcing is the sourcing planner: a pure function (NewPlan) from an order's
// lines (Request), the candidate locations with their stock (Candidate) and the policy's
// rule groups to a Plan with its Explanation.
//
// Each matching rule group filters and ranks the candidates, prefers one location that
// fills the whole order, otherwise (if it may) splits greedily down the ranking,
// weighing total cost with the split penalty against the best single location, and
// applies its unfillable action to what is left. Promise dates follow each location's
// handling time, cut-off and time zone. Equal inputs always give equal plans.
//
// The package does no I/O and owns no tables: it imports only rules. Package
// orchestration loads the candidates, calls NewPlan, stores the plan and reserves what it
// assigns, re-checking each assignment against Available in the same transaction;
// triage calls NewPlan in what-if mode, reserving nothing.
package sourcing
