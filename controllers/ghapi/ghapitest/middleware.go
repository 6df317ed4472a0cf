package ghapitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serve records the request, then applies rate-limit headers, faults and
// authentication in that order before routing.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	authz := r.Header.Get("Authorization")

	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path,
		Query: r.URL.RawQuery, Body: body, HasAuth: authz != "", Authorization: authz,
		UserAgent: r.UserAgent()})
	fault := s.takeFaultLocked(r)
	remaining, reset := s.rateRemaining, s.rateReset
	s.mu.Unlock()

	h := w.Header()
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
	h.Set("X-RateLimit-Resource", "core")
	setRemaining := func(rem int, at time.Time) {
		h.Set("X-RateLimit-Remaining", strconv.Itoa(rem))
		h.Set("X-RateLimit-Used", strconv.Itoa(s.rateLimit-rem))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(at.Unix(), 10))
	}
	setRemaining(remaining, reset)

	if fault != nil {
		s.applyFault(w, r, fault, setRemaining)
		return
	}
	if !s.authorize(w, authz) {
		return
	}
	s.mu.Lock()
	if now := time.Now(); !now.Before(s.rateReset) {
		// A new rate-limit window starts, as GitHub's does hourly.
		s.rateRemaining, s.rateReset = s.rateLimit, now.Add(time.Hour).Truncate(time.Second)
	}
	if s.rateRemaining <= 0 {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user.", docsRateLimit)
		return
	}
	s.rateRemaining--
	setRemaining(s.rateRemaining, s.rateReset)
	s.mu.Unlock()
	s.route(w, r)
}

func (s *Server) takeFaultLocked(r *http.Request) *Fault {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.PathContains != "" && !strings.Contains(r.URL.Path, f.PathContains) {
			continue
		}
		cp := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &cp
	}
	return nil
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault, setRemaining func(int, time.Time)) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	status, msg, doc := f.Status, f.Message, f.DocumentationURL
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if doc == "" {
		doc = docsREST
	}
	if f.RateLimited {
		reset := f.Reset
		if reset.IsZero() {
			reset = time.Now().Add(time.Minute)
		}
		setRemaining(0, reset)
		if doc == docsREST {
			doc = docsRateLimit
		}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeError(w, status, msg, doc)
}

// authorize accepts "Bearer <token>" and the legacy "token <token>" forms,
// answering 401 the way GitHub does otherwise.
func (s *Server) authorize(w http.ResponseWriter, authz string) bool {
	var tok string
	for _, prefix := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(authz, prefix); ok {
			tok = strings.TrimSpace(t)
			break
		}
	}
	if authz == "" {
		writeError(w, http.StatusUnauthorized, "Requires authentication", docsREST)
		return false
	}
	s.mu.Lock()
	ok := tok != "" && (len(s.tokens) == 0 || s.tokens[tok])
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsREST)
	}
	return ok
}

const (
	docsREST      = "https://docs.github.com/rest"
	docsRateLimit = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("ghapitest: encoding response: " + err.Error()) // a bug in the fake
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, map[string]string{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)})
}
