// Package ghapitest is an in-process fake of the slice of GitHub's REST API
// the operator uses (workflow dispatch, runs, jobs, artifacts, cancel, re-run, and
// GitHub App installation tokens). It speaks GitHub's real JSON shapes and
// headers, so the go-github based client is exercised end to end over
// loopback instead of against hand-written mocks of our own interfaces.
//
// It also keeps GitHub's books, so tests and the benchmark can assert on
// API budget: a primary rate limit per identity (token, installation or
// App), free 304s for conditional GETs with a matching ETag, and the
// secondary limits on writes and concurrency (see Stats).
package ghapitest

import "time"

// DispatchMode selects which generation of the dispatch endpoint the fake
// imitates, because github.com and older GitHub Enterprise Server answer
// return_run_details differently and the client must cope with both.
type DispatchMode int

const (
	// ReturnDetails answers 200 with workflow_run_id when the request asks
	// for return_run_details, as github.com does today.
	ReturnDetails DispatchMode = iota
	// NoDetails always answers 204; the run is only findable by listing.
	NoDetails
	// RejectReturnRunDetails answers 422 when return_run_details is present
	// (older GHES validating the body strictly) and 204 otherwise.
	RejectReturnRunDetails
)

// Run is the fake's state for one workflow run. Zero fields get GitHub-like
// defaults in AddRun so tests only spell out what they assert on.
type Run struct {
	ID           int64
	Repository   string // owner/repo
	Workflow     string // file name under .github/workflows, e.g. cast.yml
	Event        string // defaults to workflow_dispatch
	HeadBranch   string
	Status       string // defaults to queued
	Conclusion   string
	Attempt      int64 // defaults to 1
	DisplayTitle string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	RunStartedAt time.Time
	Jobs         []Job
	Artifacts    []Artifact
}

// Job is one job of a Run. Attempt 0 means "the run's current attempt".
type Job struct {
	ID          int64
	Attempt     int64
	Name        string
	Status      string
	Conclusion  string
	Labels      []string
	RunnerName  string
	StartedAt   time.Time
	CompletedAt time.Time
	Steps       []Step
}

// Step is one step of a Job.
type Step struct {
	Number      int64
	Name        string
	Status      string
	Conclusion  string
	StartedAt   time.Time
	CompletedAt time.Time
}

// Artifact is one artifact uploaded by a Run.
type Artifact struct {
	ID          int64
	Name        string
	SizeInBytes int64
	Expired     bool
}

// Request is what the fake recorded about one incoming call, so tests can
// assert on the wire traffic rather than on the client's intentions.
type Request struct {
	Method        string
	Path          string
	Query         string // raw query
	Body          []byte
	HasAuth       bool
	Authorization string
	UserAgent     string
	// Identity is whose rate-limit book the request was charged to: the
	// token for a personal access token, "installation:<id>" for an
	// installation token; "" when unauthenticated, rejected or App (JWT)
	// authenticated.
	Identity    string
	IfNoneMatch string
	// Status is the status answered, 0 while in flight or if the request
	// hung until the client gave up.
	Status int
	At     time.Time // when the fake received it
	// ExpiredToken is set when an installation token was presented after it
	// expired, so tests can assert the client refreshed in time.
	ExpiredToken bool
}

// Stats counts how the fake answered, overall or for one identity, so tests
// and the benchmark can assert on API budget rather than on request counts.
type Stats struct {
	Requests int // every request received
	// Counted requests cost primary rate-limit budget.
	Counted int
	// NotModified requests were conditional GETs answered 304, for free.
	NotModified      int
	PrimaryLimited   int // answered 403 with X-RateLimit-Remaining: 0
	SecondaryLimited int // answered 403 with Retry-After
	// Writes are content-creating requests (POST, PATCH, PUT, DELETE other
	// than minting installation tokens) that reached an endpoint.
	Writes int
}

// Dispatch is one parsed dispatch request body. RunID is 0 when the fake
// rejected it.
type Dispatch struct {
	Repository       string
	Workflow         string // as written in the URL: file name or numeric ID
	Ref              string
	Inputs           map[string]string
	ReturnRunDetails *bool
	Status           int
	RunID            int64
}

// Cancel is one cancel request and the status the fake answered.
type Cancel struct {
	Repository string
	RunID      int64
	Status     int
}

// Fault makes matching requests fail before they reach the endpoint, to
// drive the client's retry and back-off paths.
type Fault struct {
	Method       string // "" matches any method
	PathContains string // "" matches any path
	// Times is how many matching requests fail; 0 means every one until
	// ClearFaults.
	Times  int
	Status int // defaults to 500
	// RateLimited sends X-RateLimit-Remaining: 0 and X-RateLimit-Reset:
	// Reset (default one minute ahead), GitHub's primary rate-limit answer.
	RateLimited bool
	Reset       time.Time
	// RetryAfter, when set, is sent as the Retry-After header in seconds.
	RetryAfter       time.Duration
	Message          string
	DocumentationURL string
	// Hang blocks the request until the client gives up (its context ends)
	// or the server closes, to exercise timeouts.
	Hang bool
}

func (r Run) clone() Run {
	c := r
	c.Jobs = make([]Job, len(r.Jobs))
	for i, j := range r.Jobs {
		j.Labels = append([]string(nil), j.Labels...)
		j.Steps = append([]Step(nil), j.Steps...)
		c.Jobs[i] = j
	}
	c.Artifacts = append([]Artifact(nil), r.Artifacts...)
	return c
}
