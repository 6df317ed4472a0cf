package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

var palette = []string{"#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"}

// svg draws each delivery window's latency by percentile, HdrHistogram
// style: percentiles spread on a log scale of 1/(1-p), so the tail (99%,
// 99.9%) gets as much room as the median, and latency on a log scale.
// Hand-written SVG, no dependencies.
func (r *results) svg() string {
	const (
		w, h                  = 980, 520
		left, right, top, bot = 80, 640, 50, 450
		legendX               = 665
		maxNines              = 4.0 // 99.99%
	)
	lo, hi := -1.0, 1.0 // log10 ms
	for _, c := range r.curves {
		for _, p := range c.pts {
			if p[0] > 0 {
				hi = math.Max(hi, math.Ceil(math.Log10(p[0])))
			}
		}
	}
	hi = math.Min(hi, 5)
	y := func(msv float64) float64 {
		l := math.Log10(math.Max(msv, math.Pow(10, lo)))
		return bot - (math.Min(l, hi)-lo)/(hi-lo)*(bot-top)
	}
	x := func(frac float64) float64 {
		nines := maxNines
		if frac < 1 {
			nines = math.Min(-math.Log10(1-frac), maxNines)
		}
		return left + nines/maxNines*(right-left)
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="26" font-size="15" font-weight="bold">Delivery latency by percentile: status write returned → event read</text>`+"\n", left)
	for d := lo; d <= hi; d++ {
		yy := y(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, yy, right, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, yy+4, dur(time.Duration(math.Pow(10, d)*float64(time.Millisecond))))
	}
	for _, t := range []struct {
		frac  float64
		label string
	}{{0, "0%"}, {0.5, "50%"}, {0.9, "90%"}, {0.99, "99%"}, {0.999, "99.9%"}, {0.9999, "99.99%"}} {
		xx := x(t.frac)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", xx, top, xx, bot)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", xx, bot+18, t.label)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", left, top, right-left, bot-top)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">percentile of events</text>`+"\n", (left+right)/2, bot+40)
	fmt.Fprintf(&b, `<text x="20" y="%d" transform="rotate(-90 20 %d)" text-anchor="middle">latency (log scale)</text>`+"\n", (top+bot)/2, (top+bot)/2)

	for i, c := range r.curves {
		color := palette[i%len(palette)]
		dash := ""
		switch {
		case strings.HasPrefix(c.label, designFloor):
			dash = ` stroke-dasharray="2 3"`
		case strings.HasPrefix(c.label, "watch"):
			dash = ` stroke-dasharray="7 4"`
		}
		var pts []string
		prev := 0.0
		for _, p := range c.pts {
			// Step: the latency holds from the previous percentile to this one.
			pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(prev), y(p[0]), x(p[1]), y(p[0])))
			prev = p[1]
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dash, strings.Join(pts, " "))
		ly := top + 12 + i*44
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"%s/>`+"\n", legendX, ly, legendX+28, ly, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", legendX+36, ly+4, html.EscapeString(c.label))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">p50 %s · p99 %s</text>`+"\n", legendX+36, ly+20,
			dur(time.Duration(c.p50*float64(time.Millisecond))), dur(time.Duration(c.p99*float64(time.Millisecond))))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", left, h-12,
		html.EscapeString(fmt.Sprintf("%d writes/s over %d namespaces; the clients share the machine with the servers (%s)",
			r.cfg.writesPerSec, r.cfg.namespaces, thisMachine().short())))
	b.WriteString("</svg>\n")
	return b.String()
}
