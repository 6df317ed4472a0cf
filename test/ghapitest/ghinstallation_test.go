package ghapitest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v89/github"
)

// ghClient is a go-github client for the fake over transport tr.
func ghClient(t *testing.T, s *Server, tr http.RoundTripper) *github.Client {
	t.Helper()
	base := s.URL
	c, err := github.NewClient(github.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}), github.WithURLs(&base, nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// installationTransport is what the operator will build: ghinstallation's
// token-minting transport pointed at the fake.
func installationTransport(t *testing.T, s *Server, installationID int64, pem []byte) *ghinstallation.Transport {
	t.Helper()
	tr, err := ghinstallation.New(http.DefaultTransport, 42, installationID, pem)
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = strings.TrimSuffix(s.URL, "/")
	return tr
}

// TestGhinstallation drives the library the operator uses for App
// authentication, on the real clock.
func TestGhinstallation(t *testing.T) {
	right, wrong := testKeys(t)
	s := NewServer()
	defer s.Close()
	s.AddApp(42, right.pub)
	s.AddInstallation(42, 7, "o", nil)
	s.AddInstallation(42, 8, "p", nil)
	runO := s.AddRun(Run{Repository: "o/r"})
	runP := s.AddRun(Run{Repository: "p/r"})
	ctx := context.Background()

	t.Run("the App finds its installation with a JWT", func(t *testing.T) {
		atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, 42, right.pem)
		if err != nil {
			t.Fatal(err)
		}
		atr.BaseURL = strings.TrimSuffix(s.URL, "/")
		inst, _, err := ghClient(t, s, atr).Apps.GetRepositoryInstallation(ctx, "o", "r")
		if err != nil || inst.GetID() != 7 || inst.GetAppID() != 42 || inst.GetAccount().GetLogin() != "o" ||
			inst.GetPermissions().GetActions() != "write" {
			t.Errorf("GetRepositoryInstallation: %v %+v", err, inst)
		}
	})

	t.Run("a token is minted once and reused", func(t *testing.T) {
		c := ghClient(t, s, installationTransport(t, s, 7, right.pem))
		for range 3 {
			if _, _, err := c.Actions.GetWorkflowRunByID(ctx, "o", "r", runO.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.InstallationTokensIssued(7); n != 1 {
			t.Errorf("tokens issued = %d, want 1", n)
		}
		if st := s.StatsFor("installation:7"); st.Counted != 3 {
			t.Errorf("StatsFor(installation:7) = %+v, want the 3 reads", st)
		}
	})

	t.Run("a short-lived token is refreshed before it expires", func(t *testing.T) {
		// ghinstallation refreshes a minute before expires_at, so a 61 s
		// token is due within a second.
		s.SetInstallationTokenTTL(61 * time.Second)
		defer s.SetInstallationTokenTTL(time.Hour)
		tr := installationTransport(t, s, 8, right.pem)
		c := ghClient(t, s, tr)
		if _, _, err := c.Actions.GetWorkflowRunByID(ctx, "p", "r", runP.ID); err != nil {
			t.Fatal(err)
		}
		expires, refresh, err := tr.Expiry()
		if err != nil || time.Until(expires) > 61*time.Second || time.Until(expires) < 50*time.Second {
			t.Fatalf("Expiry: %v %v, want about 61 s on", expires, err)
		}
		time.Sleep(time.Until(refresh) + 50*time.Millisecond)
		if _, _, err := c.Actions.GetWorkflowRunByID(ctx, "p", "r", runP.ID); err != nil {
			t.Fatal(err)
		}
		if n := s.InstallationTokensIssued(8); n != 2 {
			t.Errorf("tokens issued = %d, want a refresh (2)", n)
		}
		var used []string
		for _, r := range s.Requests() {
			if r.ExpiredToken {
				t.Errorf("request sent with an expired token: %+v", r)
			}
			if r.Path == "/repos/p/r/actions/runs/"+jsonNumber(runP.ID) {
				used = append(used, r.Authorization)
			}
		}
		if len(used) != 2 || used[0] == used[1] {
			t.Errorf("authorizations %q, want the refreshed token on the second read", used)
		}
	})

	t.Run("a wrong key is refused with 401", func(t *testing.T) {
		atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, 42, wrong.pem)
		if err != nil {
			t.Fatal(err)
		}
		atr.BaseURL = strings.TrimSuffix(s.URL, "/")
		_, _, err = ghClient(t, s, atr).Apps.GetRepositoryInstallation(ctx, "o", "r")
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized || er.Message != msgJWTUndecodable {
			t.Errorf("JWT signed with a wrong key: %v", err)
		}

		_, _, err = ghClient(t, s, installationTransport(t, s, 7, wrong.pem)).Actions.GetWorkflowRunByID(ctx, "o", "r", runO.ID)
		var he *ghinstallation.HTTPError
		if !errors.As(err, &he) || he.Response == nil || he.Response.StatusCode != http.StatusUnauthorized {
			t.Errorf("minting with a wrong key: %v, want ghinstallation's HTTPError with a 401", err)
		}
	})
}
