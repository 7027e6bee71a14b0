package triage

import (
	"net/http"
	"strconv"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// handleListAlerts answers GET /v1/alerts: SLA alerts, firing first, then
// the most recent, optionally only those of one state.
func (h *Handlers) handleListAlerts(w http.ResponseWriter, r *http.Request) error {
	v := &derrors.ValidationError{}
	q := r.URL.Query()
	f := AlertFilter{State: q.Get("state"), Limit: 100}
	if f.State != "" && f.State != AlertFiring && f.State != AlertResolved {
		v.Add("state", "want firing or resolved")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			v.Add("limit", "want a whole number from 1 to 500")
		}
		f.Limit = n
	}
	if err := v.Err(); err != nil {
		return err
	}
	alerts, err := h.svc.Alerts(r.Context(), f)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"alerts": alerts})
}
