package ghapitest

import (
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

type appKey struct {
	pem  []byte
	priv *rsa.PrivateKey
	pub  *rsa.PublicKey
}

var (
	keysOnce sync.Once
	keys     [2]appKey
	keysErr  error
)

// testKeys returns two App keys, generated once per test binary: RSA
// generation is slow under the race detector.
func testKeys(t *testing.T) (right, wrong appKey) {
	t.Helper()
	keysOnce.Do(func() {
		for i := range keys {
			pemBytes, pub, err := GenerateAppKey()
			if err != nil {
				keysErr = err
				return
			}
			priv, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
			if err != nil {
				keysErr = err
				return
			}
			if !priv.PublicKey.Equal(pub) {
				t.Error("GenerateAppKey: the public key does not match the PEM")
			}
			keys[i] = appKey{pem: pemBytes, priv: priv, pub: pub}
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys[0], keys[1]
}

func sign(t *testing.T, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appServer is a fake with App 42 installed on "o" as installation 7.
func appServer(t *testing.T) (*Server, *fakeClock, appKey, appKey) {
	t.Helper()
	right, wrong := testKeys(t)
	s := NewServer()
	t.Cleanup(s.Close)
	clock := useClock(s, time.Now().Truncate(time.Second))
	s.AddApp(42, right.pub)
	s.AddInstallation(42, 7, "o", nil)
	return s, clock, right, wrong
}

func appJWT(t *testing.T, key appKey, now time.Time) string {
	return "Bearer " + sign(t, key.priv, jwt.MapClaims{"iss": "42", "iat": now.Add(-30 * time.Second).Unix(), "exp": now.Add(2 * time.Minute).Unix()})
}

func TestAppJWTIsVerified(t *testing.T) {
	s, clock, right, wrong := appServer(t)
	now := clock.now()
	s.AddApp(43, wrong.pub)
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "42", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	claims := func(iss any, iat, exp time.Duration) jwt.MapClaims {
		return jwt.MapClaims{"iss": iss, "iat": now.Add(iat).Unix(), "exp": now.Add(exp).Unix()}
	}
	for _, tc := range []struct {
		name, token, msg string
		want             int
	}{
		{name: "iss as string", token: sign(t, right.priv, claims("42", -30*time.Second, 2*time.Minute)), want: 200},
		{name: "iss as number", token: sign(t, right.priv, claims(42, 0, 10*time.Minute)), want: 200},
		{name: "iat within skew ahead", token: sign(t, right.priv, claims("42", 50*time.Second, 5*time.Minute)), want: 200},
		{name: "exp within skew behind", token: sign(t, right.priv, claims("42", -5*time.Minute, -50*time.Second)), want: 200},
		{name: "expired", token: sign(t, right.priv, claims("42", -5*time.Minute, -2*time.Minute)), want: 401, msg: msgJWTExpired},
		{name: "no exp", token: sign(t, right.priv, jwt.MapClaims{"iss": "42", "iat": now.Unix()}), want: 401, msg: msgJWTExpired},
		{name: "lives over 10 minutes", token: sign(t, right.priv, claims("42", 0, 11*time.Minute)), want: 401, msg: msgJWTTooLong},
		{name: "issued in the future", token: sign(t, right.priv, claims("42", 2*time.Minute, 5*time.Minute)), want: 401, msg: msgJWTIssuedAt},
		{name: "signed with another key", token: sign(t, wrong.priv, claims("42", 0, time.Minute)), want: 401, msg: msgJWTUndecodable},
		{name: "another app's installation", token: sign(t, wrong.priv, claims("43", 0, time.Minute)), want: 404, msg: "Not Found"},
		{name: "unknown app", token: sign(t, right.priv, claims("44", 0, time.Minute)), want: 401, msg: msgJWTUndecodable},
		{name: "HS256", token: hs, want: 401, msg: msgJWTUndecodable},
		{name: "garbage", token: "a.b.c", want: 401, msg: msgJWTUndecodable},
	} {
		resp, b := do(t, s, call{path: "/repos/o/r/installation", auth: "Bearer " + tc.token})
		body := decode(t, b)
		if resp.StatusCode != tc.want || (tc.msg != "" && body["message"] != tc.msg) {
			t.Errorf("%s: %d %v, want %d %q", tc.name, resp.StatusCode, body, tc.want, tc.msg)
		}
		if tc.want == 401 && resp.Header.Get("X-RateLimit-Remaining") != "" {
			t.Errorf("%s: a rejected JWT reported a book", tc.name)
		}
	}
	if got := s.StatsFor("app:42"); got.Counted != 4 {
		t.Errorf("StatsFor(app:42) = %+v, want the 4 accepted JWTs counted on the App's own book", got)
	}
	if got := s.StatsFor("installation:7"); got != (Stats{}) {
		t.Errorf("JWT requests charged to the installation: %+v", got)
	}
	if r := s.Requests()[0]; r.Identity != "" {
		t.Errorf("JWT request logged as %q, want no identity", r.Identity)
	}
}

func TestAppOnlyEndpoints(t *testing.T) {
	s, clock, right, _ := appServer(t)
	jwtAuth := appJWT(t, right, clock.now())
	for _, tc := range []struct {
		path, auth string
		want       int
		check      func(map[string]any) bool
	}{
		{"/repos/o/r/installation", jwtAuth, 200, func(b map[string]any) bool {
			acct, _ := b["account"].(map[string]any)
			perms, _ := b["permissions"].(map[string]any)
			return b["id"] == 7.0 && b["app_id"] == 42.0 && acct["login"] == "o" && b["target_type"] == "Organization" &&
				perms["actions"] == "write" && perms["metadata"] == "read" && b["repository_selection"] == "all"
		}},
		{"/repos/O/r/installation", jwtAuth, 200, nil}, // logins are case-insensitive
		{"/orgs/o/installation", jwtAuth, 200, nil},
		{"/users/o/installation", jwtAuth, 200, nil},
		{"/repos/elsewhere/r/installation", jwtAuth, 404, func(b map[string]any) bool { return b["message"] == "Not Found" }},
		{"/orgs/elsewhere/installation", jwtAuth, 404, nil},
		{"/repos/o/r/installation", "Bearer a-pat", 401, func(b map[string]any) bool { return b["message"] == msgJWTUndecodable }},
		{"/repos/o/r/actions/runs", jwtAuth, 401, func(b map[string]any) bool { return b["message"] == msgJWTUndecodable }},
	} {
		resp, b := do(t, s, call{path: tc.path, auth: tc.auth})
		if body := decode(t, b); resp.StatusCode != tc.want || (tc.check != nil && !tc.check(body)) {
			t.Errorf("GET %s as %.10s: %d %v, want %d", tc.path, tc.auth, resp.StatusCode, body, tc.want)
		}
	}
}

// mint asks for a token for installation id with the App JWT auth.
func mint(t *testing.T, s *Server, auth string, id, body string) (int, map[string]any) {
	t.Helper()
	resp, b := do(t, s, call{method: http.MethodPost, path: "/app/installations/" + id + "/access_tokens", auth: auth, body: body})
	return resp.StatusCode, decode(t, b)
}

func TestInstallationTokens(t *testing.T) {
	s, clock, right, wrong := appServer(t)
	s.AddApp(43, wrong.pub)
	s.AddInstallation(42, 8, "readonly", map[string]string{"actions": "read"})
	s.AddInstallation(42, 9, "meta", map[string]string{"metadata": "read"})
	s.SetSecondaryLimits(1, 1) // minting is not content creation
	jwtAuth := appJWT(t, right, clock.now())
	for _, o := range []string{"o", "elsewhere", "readonly", "meta"} {
		s.AddRun(Run{ID: int64(len(o)), Repository: o + "/r", Status: "in_progress"})
	}

	status, body := mint(t, s, jwtAuth, "7", "")
	tok, _ := body["token"].(string)
	perms, _ := body["permissions"].(map[string]any)
	if status != 201 || !strings.HasPrefix(tok, "ghs_") || len(tok) != 40 || perms["actions"] != "write" ||
		body["expires_at"] != clock.now().Add(time.Hour).UTC().Format(time.RFC3339) || body["repository_selection"] != "all" {
		t.Fatalf("mint: %d %v", status, body)
	}
	status, body = mint(t, s, jwtAuth, "7", `{"permissions":{"actions":"read"}}`)
	readTok, _ := body["token"].(string)
	if status != 201 || s.InstallationTokensIssued(7) != 2 || s.StatsFor("app:42").Writes != 0 {
		t.Errorf("second mint: %d, issued %d, app stats %+v", status, s.InstallationTokensIssued(7), s.StatsFor("app:42"))
	}
	for _, tc := range []struct{ auth, id, body string }{
		{"Bearer " + sign(t, wrong.priv, jwt.MapClaims{"iss": 43, "iat": clock.now().Unix(), "exp": clock.now().Add(time.Minute).Unix()}), "7", ""},
		{jwtAuth, "99", ""},
		{jwtAuth, "x", ""},
	} {
		if status, body := mint(t, s, tc.auth, tc.id, tc.body); status != 404 || body["message"] != "Not Found" {
			t.Errorf("mint %s as another app or unknown: %d %v, want 404", tc.id, status, body)
		}
	}
	if status, _ := mint(t, s, jwtAuth, "8", `{"permissions":{"actions":"write"}}`); status != 422 {
		t.Errorf("asking for more than granted: %d, want 422", status)
	}

	get := func(path, tok string) (*http.Response, map[string]any) {
		resp, b := do(t, s, call{path: path, auth: "token " + tok})
		return resp, decode(t, b)
	}
	resp, _ := get(runPath("o/r", 1), tok)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Remaining") != "4999" {
		t.Errorf("installation token: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := get(runPath("o/r", 1), readTok); resp.Header.Get("X-RateLimit-Remaining") != "4998" {
		t.Errorf("second token of the installation: remaining %s, want one book shared (4998)", resp.Header.Get("X-RateLimit-Remaining"))
	}
	if r := s.Requests(); r[len(r)-1].Identity != "installation:7" {
		t.Errorf("logged identity %q, want installation:7", r[len(r)-1].Identity)
	}
	if resp, body := get(runPath("elsewhere/r", 9), tok); resp.StatusCode != http.StatusNotFound || body["message"] != "Not Found" {
		t.Errorf("another owner's repository: %d %v, want 404", resp.StatusCode, body)
	}
	if resp, body := get("/repos/o/r/installation", tok); resp.StatusCode != http.StatusUnauthorized || body["message"] != msgJWTUndecodable {
		t.Errorf("installation token on an App endpoint: %d %v", resp.StatusCode, body)
	}

	_, body = mint(t, s, jwtAuth, "8", "")
	roTok := body["token"].(string)
	_, body = mint(t, s, jwtAuth, "9", "")
	metaTok := body["token"].(string)
	docs := "https://docs.github.com/rest/actions/"
	for _, tc := range []struct {
		name, tok string
		c         call
		want      int
		doc       string
	}{
		{"read-only dispatch", roTok, call{method: http.MethodPost, path: "/repos/readonly/r/actions/workflows/cast.yml/dispatches", body: `{"ref":"main"}`}, 403, docs + "workflows#create-a-workflow-dispatch-event"},
		{"read-only cancel", roTok, call{method: http.MethodPost, path: runPath("readonly/r", 8) + "/cancel"}, 403, docs + "workflow-runs#cancel-a-workflow-run"},
		{"read-only read", roTok, call{path: runPath("readonly/r", 8)}, 200, ""},
		{"narrowed token dispatch", readTok, call{method: http.MethodPost, path: "/repos/o/r/actions/workflows/cast.yml/dispatches", body: `{"ref":"main"}`}, 403, docs + "workflows#create-a-workflow-dispatch-event"},
		{"no actions permission", metaTok, call{path: runPath("meta/r", 4)}, 403, docs + "workflow-runs#get-a-workflow-run"},
		{"write token dispatch", tok, call{method: http.MethodPost, path: "/repos/o/r/actions/workflows/cast.yml/dispatches", body: `{"ref":"main"}`}, 204, ""},
	} {
		tc.c.auth = "Bearer " + tc.tok
		runs := len(s.Runs())
		resp, b := do(t, s, tc.c)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
			continue
		}
		if tc.want == 403 {
			if body := decode(t, b); body["message"] != msgNotAccessible || body["documentation_url"] != tc.doc || len(s.Runs()) != runs {
				t.Errorf("%s: %v, want %q with %s and no run", tc.name, body, msgNotAccessible, tc.doc)
			}
		}
	}

	s.SetRateLimitFor("installation:7", 100, 0, clock.now().Add(time.Minute))
	if resp, body := get(runPath("o/r", 1), tok); resp.StatusCode != http.StatusForbidden ||
		!strings.HasPrefix(body["message"].(string), "API rate limit exceeded for installation ID 7. ") {
		t.Errorf("exhausted installation: %d %v", resp.StatusCode, body)
	}
}

func TestExpiredInstallationToken(t *testing.T) {
	s, clock, right, _ := appServer(t)
	s.AddRun(Run{ID: 1, Repository: "o/r"})
	s.SetInstallationTokenTTL(70 * time.Second)
	_, body := mint(t, s, appJWT(t, right, clock.now()), "7", "")
	tok := body["token"].(string)
	if body["expires_at"] != clock.now().Add(70*time.Second).UTC().Format(time.RFC3339) {
		t.Errorf("expires_at %v, want 70 s on", body["expires_at"])
	}
	clock.advance(69 * time.Second)
	if resp, _ := do(t, s, call{path: runPath("o/r", 1), auth: "token " + tok}); resp.StatusCode != http.StatusOK {
		t.Errorf("a second before expiry: %d", resp.StatusCode)
	}
	clock.advance(time.Second)
	resp, b := do(t, s, call{path: runPath("o/r", 1), auth: "token " + tok})
	if resp.StatusCode != http.StatusUnauthorized || decode(t, b)["message"] != "Bad credentials" {
		t.Errorf("at expiry: %d %s, want 401 Bad credentials", resp.StatusCode, b)
	}
	do(t, s, call{path: runPath("o/r", 1), auth: "token ghs_unknown"})
	reqs := s.Requests()
	if r := reqs[len(reqs)-2]; !r.ExpiredToken || r.Status != 401 || r.Identity != "" {
		t.Errorf("logged %+v, want ExpiredToken", r)
	}
	if r := reqs[len(reqs)-1]; r.ExpiredToken || r.Status != 401 {
		t.Errorf("unknown ghs_ token logged %+v, want a plain 401", r)
	}
	if got := s.StatsFor("installation:7"); got.Counted != 1 {
		t.Errorf("StatsFor(installation:7) = %+v, want only the request before expiry counted", got)
	}
}
