package orchestration

// Exception statuses: an exception is open until triage decides on it
// (triaged), and ends resolved (its problem fixed) or dismissed (nothing
// to do).
const (
	ExceptionOpen      = "open"
	ExceptionTriaged   = "triaged"
	ExceptionResolved  = "resolved"
	ExceptionDismissed = "dismissed"
)

// ExceptionStatuses lists every exception status. The database accepts
// exactly these (exceptions_status_check) and the OpenAPI document's
// ExceptionStatus enum lists them; tests hold the three together.
func ExceptionStatuses() []string {
	return []string{ExceptionOpen, ExceptionTriaged, ExceptionResolved, ExceptionDismissed}
}

// Unresolved says whether an exception in status still needs a decision or
// its fix (open or triaged).
func Unresolved(status string) bool { return status == ExceptionOpen || status == ExceptionTriaged }
