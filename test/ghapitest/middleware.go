package ghapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serve records the request, then applies faults, authentication and the
// identity's rate-limit book in that order before routing.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	authz := r.Header.Get("Authorization")
	cred := s.authenticate(authz)

	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path,
		Query: r.URL.RawQuery, Body: body, HasAuth: authz != "", Authorization: authz,
		UserAgent: r.UserAgent(), Identity: cred.identity, IfNoneMatch: r.Header.Get("If-None-Match"),
		At: s.nowLocked(), ExpiredToken: cred.expired})
	var b *book
	if cred.book != "" {
		b = s.bookLocked(cred.book)
	}
	s.countLocked(b, func(st *Stats) { st.Requests++ })
	fault := s.takeFaultLocked(r)
	s.seq++
	reqID := fmt.Sprintf("C0DE:%04X:%06X:%06X:%08X", s.seq&0xffff, s.seq, s.seq*7919&0xffffff, uint32(s.seq*2654435761))
	s.mu.Unlock()

	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.Header().Set("X-GitHub-Request-Id", reqID)
	status := s.answer(w, r, cred, fault, reqID)

	s.mu.Lock()
	s.requests[idx].Status = status
	s.mu.Unlock()
}

// answer writes the response and returns its status (0 if the request
// hung until the client or the server gave up).
func (s *Server) answer(w http.ResponseWriter, r *http.Request, cred credential, fault *Fault, reqID string) int {
	if fault != nil {
		s.mu.Lock()
		limit, remaining, reset := s.viewLocked(cred.book)
		s.mu.Unlock()
		setRateHeaders(w.Header(), limit, remaining, reset)
		return s.applyFault(w, r, fault)
	}
	if cred.fail != "" {
		// Unauthenticated requests are not charged to anyone's book.
		writeError(w, http.StatusUnauthorized, cred.fail, docsREST)
		return http.StatusUnauthorized
	}

	_, pattern := s.mux.Handler(r)
	if (cred.kind == credApp) != appOnly[pattern] {
		// GitHub serves its App endpoints only to a JWT and refuses a JWT
		// everywhere else, before metering.
		writeError(w, http.StatusUnauthorized, msgJWTUndecodable, docsREST)
		return http.StatusUnauthorized
	}
	write := isContentCreating(r, pattern)
	s.mu.Lock()
	b := s.bookLocked(cred.book)
	if status, msg, doc := s.admitLocked(w.Header(), r, b, cred, pattern, write, reqID); status != 0 {
		s.mu.Unlock()
		writeError(w, status, msg, doc)
		return status
	}
	gen, gate := b.gen, s.gate
	s.mu.Unlock()

	if gate != nil {
		gate(r)
	}
	rec := newRecorder()
	s.route(rec, r.WithContext(context.WithValue(r.Context(), credKey{}, cred)))
	notModified := false
	if r.Method == http.MethodGet && (rec.status == 0 || rec.status == http.StatusOK) {
		tag := etagOf(rec.body.Bytes())
		rec.h.Set("ETag", tag)
		notModified = matchesIfNoneMatch(r.Header.Values("If-None-Match"), tag)
	}

	s.mu.Lock()
	b = s.bookLocked(cred.book)
	b.inFlight--
	if notModified {
		// A 304 is free on GitHub: give the reservation back, unless the
		// window it came from is gone.
		if b.gen == gen {
			b.remaining = min(b.remaining+1, b.limit)
		}
		s.countLocked(b, func(st *Stats) { st.NotModified++ })
	} else {
		s.countLocked(b, func(st *Stats) { st.Counted++ })
	}
	setRateHeaders(rec.h, b.limit, b.remaining, b.reset)
	s.mu.Unlock()
	if notModified {
		return rec.flushNotModified(w)
	}
	return rec.flush(w)
}

// admitLocked runs a request past the identity's primary book, the
// token's scope and the secondary limits, in GitHub's order. It returns the
// error to answer instead, or 0 after reserving one unit of budget and a
// slot in flight for the endpoint.
func (s *Server) admitLocked(h http.Header, r *http.Request, b *book, cred credential, pattern string, write bool, reqID string) (status int, msg, doc string) {
	if b.remaining <= 0 {
		s.countLocked(b, func(st *Stats) { st.PrimaryLimited++ })
		setRateHeaders(h, b.limit, 0, b.reset)
		return http.StatusForbidden, primaryLimitMessage(cred.book, reqID), docsPrimaryLimit
	}
	if status, msg, doc := s.scopeLocked(r, cred, pattern, write); status != 0 {
		// GitHub charges for a request it refuses for the token's scope.
		b.remaining--
		s.countLocked(b, func(st *Stats) { st.Counted++ })
		setRateHeaders(h, b.limit, b.remaining, b.reset)
		return status, msg, doc
	}
	if s.secondaryLimitedLocked(b, write) {
		// Not charged, and not remembered as a write: the request never
		// reaches the endpoint.
		s.countLocked(b, func(st *Stats) { st.SecondaryLimited++ })
		setRateHeaders(h, b.limit, b.remaining, b.reset)
		h.Set("Retry-After", "60")
		return http.StatusForbidden, secondaryLimitMessage(reqID), docsSecondaryLimit
	}
	if write {
		b.writes = append(b.writes, s.nowLocked())
		if pattern != "" {
			s.countLocked(b, func(st *Stats) { st.Writes++ })
		}
	}
	b.inFlight++
	b.remaining-- // reserved now so concurrent requests cannot overdraw
	return 0, "", ""
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

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) int {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return 0
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
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", w.Header().Get("X-RateLimit-Limit"))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		if doc == docsREST {
			doc = docsRateLimit
		}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeError(w, status, msg, doc)
	return status
}

const (
	docsREST      = "https://docs.github.com/rest"
	docsRateLimit = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
	// docsPrimaryLimit and docsSecondaryLimit are what GitHub sends with its
	// own rate-limit answers; go-github tells a secondary limit by the
	// "secondary-rate-limits" suffix.
	docsPrimaryLimit   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	docsSecondaryLimit = docsPrimaryLimit + "#about-secondary-rate-limits"
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
