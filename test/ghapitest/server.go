package ghapitest

import (
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

type workflowKey struct{ repo, file string }

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	// URL ends with "/" so it can be used as ghapi.Options.BaseURL as is.
	URL string

	ts      *httptest.Server
	mux     *http.ServeMux
	closing chan struct{}
	once    sync.Once

	mu           sync.Mutex
	mode         DispatchMode
	tokens       map[string]bool
	runName      func(workflow string, inputs map[string]string) string
	runs         map[int64]*Run
	workflows    map[workflowKey]int64
	workflowByID map[int64]workflowKey
	hidden       map[int64]int // run ID -> list calls it stays invisible for
	listLag      int
	faults       []*Fault
	requests     []Request
	dispatches   []Dispatch
	cancels      []Cancel
	reruns       []Rerun
	nextID       int64
	seq          uint64 // requests received, for X-GitHub-Request-Id

	clock        func() time.Time // nil: time.Now
	books        map[string]*book
	stats        Stats
	defLimit     int
	defRemaining int
	defReset     time.Time // zero: an hour after a book's first request
	perMinute    int
	perHour      int
	maxInFlight  int
	// gate, when set, runs after a request is admitted and before its
	// endpoint: tests block in it to hold requests in flight.
	gate func(*http.Request)

	apps          map[int64]*rsa.PublicKey
	installations map[int64]*installation
	instTokens    map[string]*instToken
	tokenTTL      time.Duration
}

// NewServer starts a fake on a loopback port. Close it when done.
func NewServer() *Server {
	s := &Server{
		closing:       make(chan struct{}),
		tokens:        map[string]bool{},
		runs:          map[int64]*Run{},
		workflows:     map[workflowKey]int64{},
		workflowByID:  map[int64]workflowKey{},
		hidden:        map[int64]int{},
		nextID:        30_000_000_000, // beyond int32, to catch truncation
		books:         map[string]*book{},
		defLimit:      5000,
		defRemaining:  5000,
		perMinute:     defaultPerMinute,
		perHour:       defaultPerHour,
		maxInFlight:   defaultMaxInFlight,
		apps:          map[int64]*rsa.PublicKey{},
		installations: map[int64]*installation{},
		instTokens:    map[string]*instToken{},
		tokenTTL:      defaultTokenTTL,
	}
	s.mux = s.newMux()
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL + "/"
	return s
}

// Close unblocks hanging requests and shuts the server down.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.ts.Close()
}

// SetDispatchMode switches how the dispatch endpoint answers.
func (s *Server) SetDispatchMode(m DispatchMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetTokens restricts the accepted personal access tokens; with none, any
// non-empty token is accepted. It does not apply to installation tokens
// (ghs_..., only valid as minted and until they expire) or App JWTs (valid
// when signed with an AddApp key).
func (s *Server) SetTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
	for _, t := range tokens {
		s.tokens[t] = true
	}
}

// SetRunName replaces how a dispatched run's display_title is derived from
// its inputs. The default imitates a workflow with
// `run-name: cast ${{ inputs.cast_id }}`, or the workflow file name when no
// cast_id input was sent.
func (s *Server) SetRunName(f func(workflow string, inputs map[string]string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runName = f
}

// SetListLag hides each newly dispatched run from the next n run listings,
// imitating the delay before a dispatched run becomes visible.
func (s *Server) SetListLag(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listLag = n
}

// WorkflowID returns the numeric ID of a workflow file, registering it if
// new, so tests can dispatch or list by ID.
func (s *Server) WorkflowID(repository, file string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workflowIDLocked(repository, file)
}

func (s *Server) workflowIDLocked(repository, file string) int64 {
	k := workflowKey{repository, file}
	if id, ok := s.workflows[k]; ok {
		return id
	}
	s.nextID++
	s.workflows[k] = s.nextID
	s.workflowByID[s.nextID] = k
	return s.nextID
}

// AddRun stores a run, filling defaults and assigning an ID when r.ID is 0,
// and returns what was stored.
func (s *Server) AddRun(r Run) Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addRunLocked(r)
}

func (s *Server) addRunLocked(r Run) Run {
	now := time.Now().UTC().Truncate(time.Second)
	if r.ID == 0 {
		s.nextID++
		r.ID = s.nextID
	}
	if r.Workflow == "" {
		r.Workflow = "cast.yml"
	}
	if r.Event == "" {
		r.Event = "workflow_dispatch"
	}
	if r.HeadBranch == "" {
		r.HeadBranch = "main"
	}
	if r.Status == "" {
		r.Status = "queued"
	}
	if r.Attempt == 0 {
		r.Attempt = 1
	}
	if r.DisplayTitle == "" {
		r.DisplayTitle = r.Workflow
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	if r.RunStartedAt.IsZero() {
		r.RunStartedAt = r.CreatedAt
	}
	s.workflowIDLocked(r.Repository, r.Workflow)
	c := r.clone()
	s.runs[r.ID] = &c
	return r.clone()
}

// SetRun replaces the stored run with the same ID (or adds it).
func (s *Server) SetRun(r Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.runs, r.ID)
	s.addRunLocked(r)
}

// UpdateRun mutates a stored run in place; it reports false if there is no
// such run. It does not touch UpdatedAt: GitHub bumps updated_at on every
// change, so a test that wants its change to look real to a client (one
// comparing updated_at, or holding an ETag) sets UpdatedAt itself. Any
// change to the run's JSON gives it a new ETag.
func (s *Server) UpdateRun(id int64, f func(*Run)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if ok {
		f(r)
	}
	return ok
}

// Run returns a copy of a stored run.
func (s *Server) Run(id int64) (Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok {
		return Run{}, false
	}
	return r.clone(), true
}

// Runs returns copies of all stored runs.
func (s *Server) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Run, 0, len(s.runs))
	for _, r := range s.runs {
		out = append(out, r.clone())
	}
	return out
}

// InjectFault adds a fault; faults are tried in the order added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n requests answer status.
func (s *Server) FailNext(n, status int) {
	s.InjectFault(Fault{Times: n, Status: status})
}

// RateLimitNext makes the next n requests answer status (403 or 429) with
// an exhausted primary rate limit resetting at reset.
func (s *Server) RateLimitNext(n, status int, reset time.Time) {
	s.InjectFault(Fault{Times: n, Status: status, RateLimited: true, Reset: reset,
		Message: "API rate limit exceeded for installation."})
}

// HangNext makes the next n requests block until the client gives up.
func (s *Server) HangNext(n int) {
	s.InjectFault(Fault{Times: n, Hang: true})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Dispatches returns every dispatch request received, in order.
func (s *Server) Dispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Dispatch(nil), s.dispatches...)
}

// Cancels returns every cancel request received, in order.
func (s *Server) Cancels() []Cancel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Cancel(nil), s.cancels...)
}
