package dashboard_test

import (
	"strconv"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

type stepView struct {
	Number string `json:"number"`
	Name   string `json:"name"`
	Badge  string `json:"badge"`
	Dur    string `json:"dur"`
	Failed bool   `json:"failed"`
}

type jobView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Runner    string     `json:"runner"`
	Badge     string     `json:"badge"`
	Dur       string     `json:"dur"`
	LogHref   string     `json:"logHref"`
	LogRel    string     `json:"logRel"`
	LogTarget string     `json:"logTarget"`
	Steps     []stepView `json:"steps"`
	Omitted   string     `json:"omitted"`
}

type attemptView struct {
	Text string `json:"text"`
	Href string `json:"href"`
}

type timelineView struct {
	Title    string        `json:"title"`
	Jobs     []jobView     `json:"jobs"`
	Omitted  string        `json:"omitted"`
	Attempts []attemptView `json:"attempts"`
	Announce string        `json:"announce"`
	// Focused is the id of the element with keyboard focus.
	Focused string `json:"focused"`
}

// timeline is what the detail view's timeline shows, as a reader sees it:
// text of visible elements only.
func (b *browser) timeline() (timelineView, error) {
	return eval[timelineView](b, `(() => {
  const shown = (e) => !!e && !e.hidden && e.getClientRects().length > 0;
  const text = (e) => (shown(e) ? e.textContent.trim() : '');
  // A badge reads "✓ success": its glyph and its words, spaced by CSS.
  const badge = (e) => (shown(e) ? [...e.children].map((c) => c.textContent).join(' ') : '');
  return {
    title: text(document.getElementById('timeline-title')),
    jobs: [...document.querySelectorAll('#timeline-jobs > li')].map((li) => {
      const a = li.querySelector('.tl-log a');
      return {
        id: li.dataset.jobId,
        name: text(li.querySelector('.tl-job-name')),
        runner: text(li.querySelector('.tl-runner')),
        badge: badge(li.querySelector('.tl-job-head .tl-badge')),
        dur: text(li.querySelector('.tl-job-head .tl-dur')),
        logHref: a?.getAttribute('href') ?? '', logRel: a?.getAttribute('rel') ?? '', logTarget: a?.getAttribute('target') ?? '',
        steps: [...li.querySelectorAll('.tl-steps > li')].map((s) => ({
          number: s.dataset.number,
          name: text(s.querySelector('.tl-step-name')),
          badge: badge(s.querySelector('.tl-badge')),
          dur: text(s.querySelector('.tl-dur')),
          failed: s.classList.contains('failed'),
        })),
        omitted: text(li.querySelector('.tl-omitted')),
      };
    }),
    omitted: text(document.getElementById('timeline-omitted')),
    attempts: [...document.querySelectorAll('#timeline-attempts > li')].filter(shown).map((li) => ({
      text: [...li.children].map((c) => (c.matches('.badge') ? badge(c) : c.textContent.trim())).join(' '), href: li.querySelector('a')?.getAttribute('href') ?? '',
    })),
    announce: document.getElementById('timeline-announce').textContent,
    focused: document.activeElement?.id ?? '',
  };
})()`)
}

// stepDuration is the shown duration of step n of the first job.
func (b *browser) stepDuration(n int) func() (string, error) {
	return func() (string, error) {
		t, err := b.timeline()
		if err != nil || len(t.Jobs) == 0 || len(t.Jobs[0].Steps) < n {
			return "", err
		}
		return t.Jobs[0].Steps[n-1].Dur, nil
	}
}

const jobURL = "https://github.com/" + repo + "/actions/runs/9500/job/"

var _ = Describe("The timeline of a Cast in the dashboard", func() {
	It("shows jobs and steps moving live, focuses the failed step, and shows the attempt before a re-run", func() {
		ns := newNamespace()
		token := serviceAccountToken(ns, "viewer")
		allowReading(ns, "viewer")
		now := time.Now().Truncate(time.Second)
		at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }
		step := func(n int64, name, status, conclusion string, start, end *metav1.Time) castv1alpha1.StepStatus {
			return castv1alpha1.StepStatus{Number: n, Name: name, Status: status, Conclusion: conclusion, StartedAt: start, CompletedAt: end}
		}
		matrix := createCast(ns, "matrix-build", repo, "build.yml", func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.StartedAt = castv1alpha1.PhaseRunning, 30, at(70*time.Second)
			st.RunID, st.RunAttempt, st.RunURL = 9500, 1, "https://github.com/"+repo+"/actions/runs/9500"
			st.JobsOmitted = 2
			st.Jobs = []castv1alpha1.JobStatus{{
				ID: 101, Name: "build (ubuntu-latest)", Status: "in_progress", Labels: []string{"ubuntu-latest"},
				StartedAt: at(70 * time.Second), HTMLURL: jobURL + "101", StepsOmitted: 1,
				Steps: []castv1alpha1.StepStatus{
					step(1, "Set up job", "completed", "success", at(70*time.Second), at(66*time.Second)),
					step(2, "Run tests", "in_progress", "", at(66*time.Second), nil),
					step(3, "Upload results", "queued", "", nil, nil),
				},
			}, {ID: 102, Name: "lint", Status: "queued", HTMLURL: jobURL + "102"}}
		})
		createCast(ns, "deploy-prod", repo, "deploy.yml", func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Conclusion, st.StartedAt, st.FinishedAt = castv1alpha1.PhaseFailed, "failure", at(10*time.Minute), at(8*time.Minute)
			st.RunID, st.RunAttempt = 9600, 1
			st.Jobs = []castv1alpha1.JobStatus{{
				ID: 201, Name: "deploy", Status: "completed", Conclusion: "failure", StartedAt: at(10 * time.Minute), CompletedAt: at(8 * time.Minute),
				Steps: []castv1alpha1.StepStatus{
					step(1, "Set up job", "completed", "success", at(10*time.Minute), at(10*time.Minute)),
					step(2, "Roll out", "completed", "failure", at(10*time.Minute), at(8*time.Minute)),
					step(3, "Smoke test", "completed", "skipped", nil, nil),
				},
			}}
		})

		front := startFront(startStreamer())
		b := openBrowser()
		b.do(chromedp.Navigate(front.url + "/#/namespaces/" + ns + "/casts/matrix-build"))
		b.signIn(token)
		Eventually(b.detail).Should(And(HaveField("Title", "matrix-build"), HaveField("Stream", "live")))
		b.do(chromedp.Evaluate[chromedp.Void](`window.__samePage = true`))

		By("showing the jobs as rows and their steps, with text badges, durations and log links")
		Eventually(b.timeline).Should(And(HaveField("Title", "Jobs"), HaveField("Omitted", "2 jobs not shown")))
		t, err := b.timeline()
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Jobs).To(HaveLen(2))
		build, lint := t.Jobs[0], t.Jobs[1]
		Expect(build).To(And(HaveField("Name", "build (ubuntu-latest)"), HaveField("Runner", "ubuntu-latest"), HaveField("Badge", "● running"),
			HaveField("LogHref", jobURL+"101"), HaveField("LogRel", "noopener noreferrer"), HaveField("LogTarget", "_blank"),
			HaveField("Omitted", "1 step not shown")))
		Expect(build.Steps).To(HaveExactElements(
			And(HaveField("Name", "Set up job"), HaveField("Badge", "✓ success"), HaveField("Dur", "4s")),
			And(HaveField("Name", "Run tests"), HaveField("Badge", "● running"), HaveField("Dur", MatchRegexp(`^1m \d\ds$`))),
			And(HaveField("Name", "Upload results"), HaveField("Badge", "○ queued"), HaveField("Dur", "—"))))
		Expect(lint).To(And(HaveField("Badge", "○ queued"), HaveField("Dur", "—"), HaveField("Steps", BeEmpty())))
		Expect(mustEval[string](b, `document.querySelector('.tl-log a').getAttribute('aria-label')`)).
			To(Equal("Log of job build (ubuntu-latest) on GitHub"))

		By("ticking the running step's duration every second, without announcing it")
		d1, _ := b.stepDuration(2)()
		Eventually(b.stepDuration(2), "3s").ShouldNot(Equal(d1))
		Expect(mustEval[bool](b, `!document.querySelector('.tl-steps').closest('[aria-live], [role=status]')`)).
			To(BeTrue(), "durations are outside every live region")
		Expect(b.timeline()).To(HaveField("Announce", BeEmpty()))

		By("moving to the next step live: step 2 done, step 3 running")
		setStatus(matrix, func(st *castv1alpha1.CastStatus) {
			st.Progress = 60
			st.Jobs[0].Steps[1].Status, st.Jobs[0].Steps[1].Conclusion, st.Jobs[0].Steps[1].CompletedAt = "completed", "success", at(5*time.Second)
			st.Jobs[0].Steps[2].Status, st.Jobs[0].Steps[2].StartedAt = "in_progress", at(5*time.Second)
		})
		Eventually(b.stepDuration(2)).Should(Equal("1m 01s"), "a finished step keeps its duration")
		Expect(b.timeline()).To(HaveField("Jobs", ContainElement(HaveField("Steps", HaveExactElements(
			HaveField("Badge", "✓ success"), HaveField("Badge", "✓ success"),
			And(HaveField("Badge", "● running"), HaveField("Dur", MatchRegexp(`^\d+s$`))))))))
		d3, _ := b.stepDuration(3)()
		Eventually(b.stepDuration(3), "3s").ShouldNot(Equal(d3))

		By("highlighting and focusing the failed step when the failure arrives, and saying so once")
		setStatus(matrix, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Conclusion, st.FinishedAt, st.Message = castv1alpha1.PhaseFailed, "failure", at(0), "Job build failed"
			st.Jobs[0].Status, st.Jobs[0].Conclusion, st.Jobs[0].CompletedAt = "completed", "failure", at(0)
			st.Jobs[0].Steps[2].Status, st.Jobs[0].Steps[2].Conclusion, st.Jobs[0].Steps[2].CompletedAt = "completed", "failure", at(0)
		})
		Eventually(b.timeline).Should(And(
			HaveField("Focused", "tl-step-101-3"),
			HaveField("Announce", "Job build (ubuntu-latest) failed at step Upload results.")))
		t, _ = b.timeline()
		Expect(t.Jobs[0]).To(HaveField("Badge", "✗ failure"))
		Expect(t.Jobs[0].Steps).To(HaveExactElements(HaveField("Failed", false), HaveField("Failed", false),
			And(HaveField("Failed", true), HaveField("Badge", "✗ failure"), HaveField("Dur", "5s"))))
		Expect(mustEval[string](b, `getComputedStyle(document.getElementById('tl-step-101-3')).backgroundColor`)).
			NotTo(Equal(mustEval[string](b, `getComputedStyle(document.getElementById('tl-step-101-2')).backgroundColor`)), "the failed step stands out")

		By("showing the failed attempt's outcome, with its link, once the run is re-run")
		setStatus(matrix, func(st *castv1alpha1.CastStatus) {
			st.PreviousAttempts = []castv1alpha1.AttemptOutcome{{Attempt: 1, Phase: castv1alpha1.PhaseFailed, Conclusion: "failure",
				StartedAt: at(70 * time.Second), FinishedAt: at(0), URL: "https://github.com/" + repo + "/actions/runs/9500/attempts/1"}}
			st.Phase, st.RunAttempt, st.Conclusion, st.FinishedAt, st.Message = castv1alpha1.PhaseRunning, 2, "", nil, ""
			st.StartedAt, st.JobsOmitted = at(0), 0
			st.Jobs = []castv1alpha1.JobStatus{{ID: 301, Name: "build (ubuntu-latest)", Status: "queued", HTMLURL: jobURL + "301"}}
		})
		Eventually(b.timeline).Should(And(HaveField("Title", "Jobs · attempt 2"), HaveField("Omitted", ""),
			HaveField("Attempts", HaveExactElements(And(
				HaveField("Text", "Attempt 1 ✕ Failed (failure) 1m 10s Run ↗"),
				HaveField("Href", "https://github.com/"+repo+"/actions/runs/9500/attempts/1")))),
			HaveField("Jobs", HaveExactElements(And(HaveField("ID", "301"), HaveField("Badge", "○ queued"))))))
		Expect(mustEval[bool](b, `window.__samePage === true`)).To(BeTrue(), "all of this without a reload")

		By("focusing the failed step of a Cast that had already failed when its detail opens")
		b.do(chromedp.Evaluate[chromedp.Void](`location.hash = '#/namespaces/` + ns + `/casts/deploy-prod'`))
		Eventually(b.timeline).Should(HaveField("Focused", "tl-step-201-2"))
		t, _ = b.timeline()
		Expect(t.Jobs[0].Steps).To(HaveExactElements(
			HaveField("Dur", "0s"), And(HaveField("Failed", true), HaveField("Dur", "2m 00s")),
			And(HaveField("Badge", "↷ skipped"), HaveField("Dur", "—"))))
		Expect(t.Announce).To(BeEmpty(), "opening a finished Cast announces nothing")
		Expect(mustEval[float64](b, `(() => { const r = document.activeElement.getBoundingClientRect(); return r.bottom <= innerHeight && r.top >= 0 ? 1 : 0; })()`)).
			To(Equal(1.0), "the failed step is scrolled into view")

		By("showing the jobs as cards on a phone")
		card := func() (string, error) {
			return eval[string](b, `(() => { const s = getComputedStyle(document.querySelector('.tl-job')); return s.borderTopLeftRadius + ' ' + s.marginBottom + ' ' + s.borderTopStyle; })()`)
		}
		Expect(card()).To(Equal("0px 0px none"), "on a desktop the jobs are rows of one list")
		b.do(chromedp.EmulateViewport(390, 844))
		Eventually(card).Should(Equal("10px 10px solid"))
		b.do(chromedp.EmulateViewport(1280, 800))
		Expect(b.cspViolations()).To(BeEmpty())
	})
})

// screenshotJobs are the jobs of the Cast the README's screenshot shows:
// the second attempt of a docs site's run, publishing.
func screenshotJobs(now time.Time) []castv1alpha1.JobStatus {
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }
	done := func(n int64, name, conclusion string, from, to time.Duration) castv1alpha1.StepStatus {
		return castv1alpha1.StepStatus{Number: n, Name: name, Status: "completed", Conclusion: conclusion, StartedAt: at(from), CompletedAt: at(to)}
	}
	url := func(id int64) string {
		return "https://github.com/" + repo + "/actions/runs/9038/job/" + strconv.FormatInt(id, 10)
	}
	ubuntu := []string{"ubuntu-latest"}
	return []castv1alpha1.JobStatus{{
		ID: 7101, Name: "build-site", Status: "completed", Conclusion: "success", Labels: ubuntu, HTMLURL: url(7101),
		StartedAt: at(4 * time.Minute), CompletedAt: at(150 * time.Second),
		Steps: []castv1alpha1.StepStatus{
			done(1, "Set up job", "success", 240*time.Second, 238*time.Second),
			done(2, "Check out", "success", 238*time.Second, 236*time.Second),
			done(3, "Install dependencies", "success", 236*time.Second, 205*time.Second),
			done(4, "Build site", "success", 205*time.Second, 152*time.Second),
			done(5, "Complete job", "success", 152*time.Second, 150*time.Second),
		},
	}, {
		ID: 7102, Name: "link-check", Status: "completed", Conclusion: "success", Labels: ubuntu, HTMLURL: url(7102),
		StartedAt: at(4 * time.Minute), CompletedAt: at(190 * time.Second),
		Steps: []castv1alpha1.StepStatus{
			done(1, "Set up job", "success", 240*time.Second, 237*time.Second),
			done(2, "Check links", "success", 237*time.Second, 191*time.Second),
			{Number: 3, Name: "Report broken links", Status: "completed", Conclusion: "skipped"},
		},
	}, {
		ID: 7103, Name: "publish", Status: "in_progress", Labels: ubuntu, HTMLURL: url(7103), StartedAt: at(140 * time.Second),
		Steps: []castv1alpha1.StepStatus{
			done(1, "Set up job", "success", 140*time.Second, 137*time.Second),
			done(2, "Download site", "success", 137*time.Second, 128*time.Second),
			{Number: 3, Name: "Upload to Pages", Status: "in_progress", StartedAt: at(128 * time.Second)},
			{Number: 4, Name: "Complete job", Status: "queued"},
		},
	}}
}
