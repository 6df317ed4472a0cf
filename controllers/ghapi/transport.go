package ghapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/lru"
)

// maxCachedBodies bounds the ETag cache: a run, its jobs and a repository
// listing for each of some thousands of running Casts.
const maxCachedBodies = 8192

// maxCachedBody leaves large answers (long job lists) out of the cache.
const maxCachedBody = 1 << 20

type cachedBody struct {
	etag   string
	status int
	header http.Header
	body   []byte
}

// etagTransport makes every GET conditional. GitHub answers 304 for an
// unchanged resource and does not count it against the primary limit, so
// a resync of a run that did not change is free; the cached body is then
// replayed as the 200 it stands for.
type etagTransport struct {
	base  http.RoundTripper
	cache *lru.Cache
	// scope keeps credentials apart: GitHub varies answers by Authorization.
	scope string
}

// ownETagKey marks a request whose caller keeps its own validator and
// decoded answer (see listRunsPage), so the transport keeps no copy.
type ownETagKey struct{}

func withOwnETag(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownETagKey{}, true)
}

func (t etagTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Context().Value(ownETagKey{}) != nil {
		return t.base.RoundTrip(req)
	}
	key := t.scope + " " + req.URL.String()
	var hit *cachedBody
	if v, ok := t.cache.Get(key); ok {
		hit = v.(*cachedBody)
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", hit.etag)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && hit != nil:
		_ = resp.Body.Close()
		h := hit.header.Clone()
		// The rate-limit headers are today's, not the cached answer's.
		for _, k := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Used", "X-Ratelimit-Reset", "Date"} {
			if v := resp.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		return &http.Response{
			Status: strconv.Itoa(hit.status) + " " + http.StatusText(hit.status), StatusCode: hit.status,
			Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
			Header: h, Body: io.NopCloser(bytes.NewReader(hit.body)), ContentLength: int64(len(hit.body)),
			Request: resp.Request,
		}, nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "" && resp.ContentLength <= maxCachedBody:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
		if err != nil {
			_ = resp.Body.Close()
			return nil, err
		}
		if len(body) > maxCachedBody {
			// Too big to keep: hand it on whole, read part and rest.
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
			return resp, nil
		}
		_ = resp.Body.Close()
		t.cache.Add(key, &cachedBody{etag: resp.Header.Get("ETag"), status: resp.StatusCode, header: resp.Header.Clone(), body: body})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		t.cache.Remove(key)
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// isSecondaryLimit recognises GitHub's secondary-limit answer by its
// message or documentation link, peeking at the body and putting it back.
func isSecondaryLimit(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	peek, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	text := strings.ToLower(string(peek))
	return strings.Contains(text, "secondary rate limit") || strings.Contains(text, "about-secondary-rate-limits") ||
		strings.Contains(text, "abuse")
}

// budgetTransport admits each request against its credential's Budget and
// lets every answer update it.
type budgetTransport struct {
	base   http.RoundTripper
	budget *Budget
}

func (t budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := priorityOf(req.Context())
	if req.Method != http.MethodGet {
		p = Essential
	}
	conditional := req.Header.Get("If-None-Match") != ""
	release, err := t.budget.admit(req.Context(), p, conditional, req.URL.String(), time.Now())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	defer release()
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.budget.observe(resp, conditional && p == Background, time.Now())
	return resp, nil
}
