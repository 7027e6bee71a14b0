package review

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// rejectReasons are the reason codes a rejection names.
var rejectReasons = []struct{ Code, Label string }{
	{"wrong_recommendation", "the recommended fix is wrong"},
	{"not_an_issue", "nothing needs doing"},
	{"duplicate", "duplicate of another case"},
	{"handled_elsewhere", "handled outside omnitriage"},
	{"customer_request", "the customer asked otherwise"},
	{"other", "other (say in the note)"},
}

// lineActions are the fixes that act on some of the order's lines; a
// modify to one of them takes the lines the form ticks when the fix's own
// parameters name none.
var lineActions = map[string]bool{rules.ActionReroute: true, rules.ActionSplit: true, rules.ActionSubstitute: true,
	rules.ActionCancelLines: true}

// registerCaseRoutes mounts the case page and its actions.
func (s *Server) registerCaseRoutes(r chi.Router) {
	r.With(s.requireRole(viewers...)).Get("/review/cases/{id}", s.h(s.handleCase))
	r.With(s.requireRole(deciders...)).Post("/review/cases/{id}/claim", s.h(s.handleClaim))
	r.With(s.requireRole(deciders...)).Post("/review/cases/{id}/decision", s.h(s.handleDecision))
}

// casePage is the model of templates/case.html.
type casePage struct {
	Page
	triage.CaseDetail
	ID              string
	Prev, Next      string
	CanDecide       bool
	Waiting         bool
	ClaimedByOther  bool
	DueIn           string
	Payload, Params string
	Confidence      string
	Value           string
	Reasons         []struct{ Code, Label string }
	Actions         []string
	// Banner is what happened to a decision just sent: already decided,
	// claimed, failed to apply (with a retry).
	Banner, BannerKind string
	Retry              map[string]string
	Fields             []derrors.FieldError
}

func caseID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return uuid.Nil, fmt.Errorf("no case %q: %w", chi.URLParam(r, "id"), derrors.NotFound)
	}
	return id, nil
}

// handleCase shows a case; opening it claims it for a decider.
func (s *Server) handleCase(w http.ResponseWriter, r *http.Request) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	if u.Can(deciders...) {
		if _, err := s.cfg.Triage.ClaimCase(r.Context(), id, u.Actor()); err != nil && !errors.Is(err, derrors.Conflict) {
			return err // a decided case is shown, not claimed
		}
	}
	p, err := s.casePage(r, id)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "case.html", p)
}

func (s *Server) casePage(r *http.Request, id uuid.UUID) (casePage, error) {
	u, _ := UserFrom(r.Context())
	d, err := s.cfg.Triage.CaseDetail(r.Context(), id, u.Actor())
	if err != nil {
		return casePage{}, err
	}
	p := casePage{Page: s.page(r, "Case "+id.String()[:8]), CaseDetail: d, ID: id.String(),
		Waiting: d.Case.Status == triage.StatusQueued || d.Case.Status == triage.StatusNoAction,
		Reasons: rejectReasons, Actions: rules.Actions()}
	p.Assets = []string{"review.css", "case.js"}
	p.ClaimedByOther = d.Claim.By != "" && !d.Claim.Mine
	p.CanDecide = u.Can(deciders...) && p.Waiting && !p.ClaimedByOther
	p.DueIn = timeLeft(d.DueAt.Sub(s.now()))
	if len(d.Exception.Payload) > 0 {
		var v any
		if json.Unmarshal(d.Exception.Payload, &v) == nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			p.Payload = string(b)
		}
	}
	if len(d.Case.Params) > 0 {
		b, _ := json.Marshal(d.Case.Params)
		p.Params = string(b)
	}
	if d.Case.Confidence != nil {
		p.Confidence = fmt.Sprintf("%.0f%%", 100**d.Case.Confidence)
	}
	if d.Timeline != nil {
		p.Value = money(d.Timeline.Order.Total, d.Timeline.Order.Currency)
	}
	prev, next, err := s.cfg.Triage.QueueNeighbours(r.Context(), id)
	if err != nil {
		return casePage{}, err
	}
	if prev != uuid.Nil {
		p.Prev = "/review/cases/" + prev.String()
	}
	if next != uuid.Nil {
		p.Next = "/review/cases/" + next.String()
	}
	return p, nil
}

// handleClaim claims or renews the claim, then shows the case (the page's
// script calls it while the case is open, to keep the claim).
func (s *Server) handleClaim(w http.ResponseWriter, r *http.Request) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	c, err := s.cfg.Triage.ClaimCase(r.Context(), id, u.Actor())
	if err != nil {
		return err
	}
	if r.Header.Get("X-Renew") != "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if !c.Mine {
		s.flash(r, "Claimed by "+c.By+" until "+c.Until.UTC().Format("15:04 MST")+".")
	} else {
		s.flash(r, "You hold this case until "+c.Until.UTC().Format("15:04 MST")+".")
	}
	http.Redirect(w, r, "/review/cases/"+id.String(), http.StatusSeeOther)
	return nil
}

// handleDecision decides the case through triage's Decide and lands on the
// next case; a refusal shows the case again with what happened.
func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("reading the form: %v: %w", err, derrors.Invalid)
	}
	c, err := s.cfg.Triage.GetCase(r.Context(), id)
	if err != nil {
		return err
	}
	req, err := s.decisionRequest(r, c)
	var res triage.DecideResult
	if err == nil {
		res, err = s.cfg.Triage.Decide(r.Context(), id, u.Actor(), req)
	}
	if err == nil && res.Replayed && res.Case.Decision != nil && res.Case.Decision.By != u.Actor() {
		err = &triage.DecidedError{Decision: *res.Case.Decision}
	}
	if err != nil {
		return s.decisionFailed(w, r, id, err)
	}
	msg := "Decided: " + req.Decision
	if res.Case.Result != nil && res.Case.Result.Message != "" {
		msg += " — " + res.Case.Result.Message
	}
	s.flash(r, msg+".")
	next, ok, err := s.cfg.Triage.NextInQueue(r.Context(), u.Actor(), id)
	if err != nil {
		return err
	}
	to := "/review"
	if ok {
		to = "/review/cases/" + next.String()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// decisionFailed shows the case with why the decision was not taken.
func (s *Server) decisionFailed(w http.ResponseWriter, r *http.Request, id uuid.UUID, derr error) error {
	p, err := s.casePage(r, id)
	if err != nil {
		return err
	}
	status := derrors.Status(derr)
	var de *triage.DecidedError
	var ce *triage.ClaimedError
	var ve *derrors.ValidationError
	switch {
	case errors.As(derr, &de):
		p.BannerKind = "info"
		p.Banner = fmt.Sprintf("Already decided by %s at %s (%s). Nothing was changed.", de.Decision.By,
			de.Decision.At.UTC().Format("2 Jan 15:04:05 MST"), de.Decision.Decision)
		status = http.StatusConflict
	case errors.As(derr, &ce):
		p.BannerKind = "info"
		p.Banner = fmt.Sprintf("Claimed by %s until %s: they are working on it. Nothing was changed.", ce.By,
			ce.Until.UTC().Format("15:04 MST"))
	case errors.As(derr, &ve):
		p.BannerKind = "error"
		p.Banner = "Please check the decision:"
		p.Fields = ve.Fields
	default:
		p.BannerKind = "error"
		msg := web.PublicMessage(derr)
		if status == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "deciding", "case", id, "err", derr, "request_id", requestID(r))
			status = http.StatusBadGateway
			msg = "the fix could not be applied (request " + requestID(r) + ")"
		}
		p.Banner = "Not applied: " + msg + ". Nothing was recorded; retry when ready."
		p.Retry = map[string]string{}
		for k := range r.PostForm {
			p.Retry[k] = r.PostForm.Get(k)
		}
	}
	return s.render(w, r, status, "case.html", p)
}

// decisionRequest reads the decide form into triage's request.
func (s *Server) decisionRequest(r *http.Request, c triage.Case) (triage.DecisionRequest, error) {
	f := r.PostForm
	req := triage.DecisionRequest{Decision: f.Get("decision"), Cause: f.Get("cause"), Note: strings.TrimSpace(f.Get("note"))}
	ve := &derrors.ValidationError{}
	switch req.Decision {
	case triage.DecisionReject:
		code := f.Get("reason")
		if !slices.ContainsFunc(rejectReasons, func(x struct{ Code, Label string }) bool { return x.Code == code }) {
			ve.Add("reason", "choose a reason")
		}
		req.Note = strings.TrimSpace("reason: " + code + ". " + req.Note)
	case triage.DecisionModify:
		req.Action = f.Get("action")
		// Start from the parameters the recommendation or an alternative had
		// for the action, then apply what the form changes.
		req.Params = map[string]any{}
		for _, cand := range append([]triage.Candidate{{Action: c.Action, Params: c.Params}}, c.Alternatives...) {
			if cand.Action == req.Action {
				maps.Copy(req.Params, cand.Params)
				break
			}
		}
		if _, named := req.Params["lines"]; !named && lineActions[req.Action] && len(f["lines"]) > 0 {
			var lines []any
			for _, v := range f["lines"] {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					ve.Add("lines", "%q is not a line number", v)
					continue
				}
				lines = append(lines, n)
			}
			req.Params["lines"] = lines
		}
		if v := f.Get("to_location"); v != "" && req.Action == rules.ActionReroute {
			req.Params["to_location"] = v
		}
		if v := f.Get("template"); v != "" && req.Action == rules.ActionNotify {
			req.Params["template"] = v
		}
		if v := f.Get("amount"); v != "" && req.Action == rules.ActionCompensate {
			amt, err := strconv.ParseFloat(v, 64)
			if err != nil || amt <= 0 {
				ve.Add("amount", "want a positive amount")
			} else {
				req.Params["amount"] = amt
			}
		}
	}
	if err := ve.Err(); err != nil {
		return req, err
	}
	return req, nil
}
