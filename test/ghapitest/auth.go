package ghapitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

type credKind int

const (
	credPAT          credKind = iota + 1 // a personal access token (any non-App token)
	credInstallation                     // an installation token, ghs_...
	credApp                              // a JWT signed with an App's key
)

// credential is who a request authenticated as, worked out before faults
// are applied so even a faulted answer reports the right book.
type credential struct {
	kind credKind
	// book is the rate-limit book the request is charged to; "" when
	// authentication failed.
	book string
	// identity is what Request.Identity records.
	identity       string
	appID          int64
	installationID int64
	permissions    map[string]string // an installation token's
	// fail, when set, is the 401 message to answer; expired marks an
	// installation token presented after its expiry.
	fail    string
	expired bool
}

const (
	msgBadCredentials = "Bad credentials"
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgJWTExpired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTTooLong     = "'Expiration time' claim ('exp') is too far in the future"
	msgJWTIssuedAt    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgNotAccessible  = "Resource not accessible by integration"

	// jwtSkew is the clock drift GitHub tolerates on a JWT's iat and exp;
	// jwtMaxLifetime is the longest exp-iat it accepts.
	jwtSkew        = 60 * time.Second
	jwtMaxLifetime = 10 * time.Minute
)

// bearer extracts the token from "Bearer <token>" or the legacy
// "token <token>" form; "" for anything else.
func bearer(authz string) string {
	for _, prefix := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(authz, prefix); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// authenticate resolves the Authorization header without answering, so
// faults can still answer first as they always have.
func (s *Server) authenticate(authz string) credential {
	if authz == "" {
		return credential{fail: "Requires authentication"}
	}
	tok := bearer(authz)
	if strings.Count(tok, ".") == 2 {
		return s.authenticateJWT(tok)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(tok, "ghs_") {
		it := s.instTokens[tok]
		switch {
		case it == nil:
			return credential{fail: msgBadCredentials}
		case !s.nowLocked().Before(it.expires):
			return credential{fail: msgBadCredentials, expired: true}
		}
		id := "installation:" + strconv.FormatInt(it.installationID, 10)
		return credential{kind: credInstallation, book: id, identity: id,
			installationID: it.installationID, permissions: it.permissions}
	}
	if tok == "" || (len(s.tokens) > 0 && !s.tokens[tok]) {
		return credential{fail: msgBadCredentials}
	}
	return credential{kind: credPAT, book: tok, identity: tok}
}

var errUnknownApp = errors.New("no such App")

// authenticateJWT verifies an App's JWT as GitHub does: RS256 with the
// App's registered key, iss the App ID (string or number), iat not in the
// future and exp in the future, at most ten minutes after iat, both with a
// minute of clock skew.
func (s *Server) authenticateJWT(tok string) credential {
	claims := jwt.MapClaims{}
	var appID int64
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithJSONNumber(), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) {
		id, err := claimInt(claims["iss"])
		if err != nil {
			return nil, fmt.Errorf("iss: %w", err)
		}
		s.mu.Lock()
		key := s.apps[id]
		s.mu.Unlock()
		if key == nil {
			return nil, fmt.Errorf("%w: %d", errUnknownApp, id)
		}
		appID = id
		return key, nil
	})
	if err != nil {
		return credential{fail: msgJWTUndecodable}
	}
	iat, errIat := claimInt(claims["iat"])
	exp, errExp := claimInt(claims["exp"])
	s.mu.Lock()
	now := s.nowLocked()
	s.mu.Unlock()
	switch {
	case errExp != nil || !now.Before(time.Unix(exp, 0).Add(jwtSkew)):
		return credential{fail: msgJWTExpired}
	case errIat != nil || time.Unix(iat, 0).After(now.Add(jwtSkew)):
		return credential{fail: msgJWTIssuedAt}
	case time.Unix(exp, 0).Sub(time.Unix(iat, 0)) > jwtMaxLifetime:
		return credential{fail: msgJWTTooLong}
	}
	return credential{kind: credApp, book: "app:" + strconv.FormatInt(appID, 10), appID: appID}
}

// claimInt reads a numeric claim, or a string holding one (GitHub accepts
// iss either way).
func claimInt(v any) (int64, error) {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
		f, err := v.Float64()
		if err != nil {
			return 0, fmt.Errorf("claim %q: %w", v, err)
		}
		return int64(f), nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("claim %q: %w", v, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("claim %v: not a number", v)
}

// appOnly lists the endpoints GitHub serves only to a JWT; every other
// endpoint refuses one.
var appOnly = map[string]bool{
	"GET /repos/{owner}/{repo}/installation": true,
	"GET /orgs/{org}/installation":           true,
	"GET /users/{user}/installation":         true,
	patternAccessTokens:                      true,
}

// permissionDocs is the documentation_url GitHub sends with a 403 for a
// missing installation permission: the endpoint's own page.
var permissionDocs = map[string]string{
	"POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches":   "workflows#create-a-workflow-dispatch-event",
	"GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs":          "workflow-runs#list-workflow-runs-for-a-workflow",
	"GET /repos/{owner}/{repo}/actions/runs":                               "workflow-runs#list-workflow-runs-for-a-repository",
	"GET /repos/{owner}/{repo}/actions/runs/{run}":                         "workflow-runs#get-a-workflow-run",
	"GET /repos/{owner}/{repo}/actions/runs/{run}/jobs":                    "workflow-jobs#list-jobs-for-a-workflow-run",
	"GET /repos/{owner}/{repo}/actions/runs/{run}/attempts/{attempt}/jobs": "workflow-jobs#list-jobs-for-a-workflow-run-attempt",
	"GET /repos/{owner}/{repo}/actions/runs/{run}/artifacts":               "artifacts#list-workflow-run-artifacts",
	"POST /repos/{owner}/{repo}/actions/runs/{run}/cancel":                 "workflow-runs#cancel-a-workflow-run",
}

// scopeLocked checks an installation token against the repository and
// permission the endpoint needs, returning the status and message to
// answer instead, or 0. Installations see only their owner's repositories
// (others are 404, as if they did not exist) and need actions:read to read
// runs and actions:write to dispatch or cancel.
func (s *Server) scopeLocked(r *http.Request, cred credential, pattern string, write bool) (int, string, string) {
	if cred.kind != credInstallation {
		return 0, "", ""
	}
	inst := s.installations[cred.installationID]
	if owner, ok := strings.CutPrefix(r.URL.Path, "/repos/"); ok {
		owner, _, _ = strings.Cut(owner, "/")
		if inst == nil || !strings.EqualFold(owner, inst.owner) {
			return http.StatusNotFound, "Not Found", docsREST
		}
	}
	doc, ok := permissionDocs[pattern]
	if !ok {
		return 0, "", ""
	}
	switch have := cred.permissions["actions"]; {
	case have == "write", have == "read" && !write:
		return 0, "", ""
	}
	return http.StatusForbidden, msgNotAccessible, "https://docs.github.com/rest/actions/" + doc
}
