package ghapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-github/v89/github"
)

// IsPermanent reports whether retrying the same call cannot succeed: GitHub
// refused it with a 4xx other than 408 (timeout) and 429 (too many requests)
// and it is not a rate limit, or the arguments were malformed, or the
// credential cannot work for the repository (an AccessError). Callers mark
// the Cast failed on permanent errors and back off on the rest.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if _, denied := AccessProblem(err); denied || errors.Is(err, errBadArgument) {
		return true
	}
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &abuse) {
		return false
	}
	code := statusCode(err)
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// RetryAfter returns how long GitHub asked the caller to wait before trying
// again, from a primary rate limit's reset time, a secondary rate limit's
// Retry-After, or a Retry-After header on any other error. It returns 0 when
// GitHub gave no hint, leaving the back-off to the caller.
func RetryAfter(err error) time.Duration {
	var le *LimitError
	if errors.As(err, &le) {
		return max(le.Wait, time.Millisecond)
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		if rl.Rate.Reset.IsZero() {
			return 0
		}
		// A reset already in the past still means "wait a moment" for a
		// rate-limited call, not "no hint".
		return max(time.Until(rl.Rate.Reset.Time), time.Second)
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) && abuse.RetryAfter != nil {
		return max(*abuse.RetryAfter, 0)
	}
	if resp := response(err); resp != nil { //nolint:bodyclose // go-github read and closed the body of an error response
		return parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return 0
}

// NotSent reports whether err means the call never left the operator: the
// credential's budget or a rate-limit hold kept it back. A dispatch that
// was not sent needs no look for its run before it is tried again.
func NotSent(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

// parseRetryAfter reads a Retry-After header, which HTTP allows as seconds
// or as a date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// statusCode is the HTTP status of the GitHub response behind err, or 0.
func statusCode(err error) int {
	if resp := response(err); resp != nil { //nolint:bodyclose // go-github read and closed the body of an error response
		return resp.StatusCode
	}
	return 0
}

func response(err error) *http.Response {
	var er *github.ErrorResponse
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var tfa *github.TwoFactorAuthError
	switch {
	case errors.As(err, &er):
		return er.Response
	case errors.As(err, &rl):
		return rl.Response
	case errors.As(err, &abuse):
		return abuse.Response
	case errors.As(err, &tfa):
		return tfa.Response
	}
	return nil
}
