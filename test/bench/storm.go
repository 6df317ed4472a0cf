package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// The streamer's caches (streamer/auth): accepted tokens are trusted for
// 10 s, SubjectAccessReview answers kept for 10 s.
const authTTL = 10 * time.Second

const (
	seriesTokenReview = `cast_streamer_auth_api_calls_total{kind="tokenreview"}`
	seriesSAR         = `cast_streamer_auth_api_calls_total{kind="subjectaccessreview"}`
	seriesOpen        = `cast_streamer_open_streams`
)

// storm connects every client at once (scenario 3) with the given tokens
// (token i belongs to ServiceAccount i % users) and counts the reviews the
// streamer sent for them.
func (b *bench) storm(ctx context.Context, kind string, tokens []string, users int) error {
	C := b.cfg.stormClients
	specs := make([]streamSpec, C)
	pairs := map[[2]int]bool{}
	distinct := map[string]bool{}
	for i := range specs {
		user := i % users
		ns := user % b.cfg.namespaces
		specs[i] = nsStream(ns, tokens[i%len(tokens)])
		pairs[[2]int{user, ns}] = true
		distinct[specs[i].token] = true
	}
	before, err := scrape(b.metricsURL())
	if err != nil {
		return err
	}
	fleet := newFleet(b.streamAddr)
	defer func() { fleet.closeAll(); b.waitStreams(0) }()
	w := sample(b.cl.apiPID, b.streamer.pid())
	var admit hist
	took, err := fleet.open(ctx, specs, C, &admit)
	us := w.end()
	if err != nil {
		return err
	}
	after, err := scrape(b.metricsURL())
	if err != nil {
		return err
	}
	tr, sar := delta(before, after, seriesTokenReview), delta(before, after, seriesSAR)
	windows := math.Floor(took.Seconds()/authTTL.Seconds()) + 1
	res := stormResult{
		kind: kind, clients: C, admitted: int(fleet.admitted.Load()), took: took,
		tokens: len(distinct), users: users, pairs: len(pairs), windows: int(windows),
		tokenReviews: int(tr), sars: int(sar), tooMany: int(fleet.tooMany.Load()), refused: int(fleet.refused.Load()),
	}
	res.rate = float64(res.admitted) / took.Seconds()
	for _, series := range []string{seriesTokenReview, seriesSAR} {
		if !after.has(series) {
			res.missing = append(res.missing, series)
		}
	}
	b.res.storms = append(b.res.storms, res)
	b.res.add(row{scenario: "3. connection storm", design: designStreamer + ", " + kind, clients: C,
		lat: admit.summary(), hasLat: true, throughput: fmt.Sprintf("**%s admitted/s**", human(res.rate)),
		proc: us[1], procName: "streamer", api: us[0],
		note: fmt.Sprintf("%d/%d admitted in %s; %d tokens of %d users, %d (user, scope) pairs; TokenReviews %d, SubjectAccessReviews %d; 429s %d; latency = time to 200",
			res.admitted, C, took.Round(time.Millisecond), res.tokens, users, res.pairs, res.tokenReviews, res.sars, res.tooMany) + refusedNote(fleet)})
	return nil
}

func refusedNote(f *sseFleet) string {
	if r := f.refusals(); r != "" {
		return "; refused: " + r
	}
	return ""
}

// waitStreams waits until the streamer reports n open streams (20 s at most).
func (b *bench) waitStreams(n int) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := scrape(b.metricsURL()); err == nil && m.has(seriesOpen) && int(m.get(seriesOpen)) <= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStreamsAtLeast waits until the streamer reports at least n open
// streams (10 s at most).
func (b *bench) waitStreamsAtLeast(n int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := scrape(b.metricsURL()); err == nil && m.has(seriesOpen) && int(m.get(seriesOpen)) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
