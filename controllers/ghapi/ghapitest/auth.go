package ghapitest

import "strings"

// credential is who a request authenticated as, worked out before faults
// are applied so even a faulted answer reports the right book.
type credential struct {
	// book is the rate-limit book the request is charged to; "" when
	// authentication failed.
	book string
	// identity is what Request.Identity records.
	identity string
	// fail, when set, is the 401 message to answer.
	fail string
}

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
	s.mu.Lock()
	ok := tok != "" && (len(s.tokens) == 0 || s.tokens[tok])
	s.mu.Unlock()
	if !ok {
		return credential{fail: msgBadCredentials}
	}
	return credential{book: tok, identity: tok}
}

const msgBadCredentials = "Bad credentials"
