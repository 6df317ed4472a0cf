// Package intern lets cached Casts share what they repeat instead of each
// holding its own decoded copy: the API server's JSON decodes every string
// and map anew, while namespaces, repositories, phases, condition reasons,
// fixed messages and label sets recur across thousands of Casts. The
// controller's cache transform and the streamer's hub.Trim both use it.
// What it hands out lives in cached objects, which nothing modifies.
package intern

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"
)

// String returns the shared copy of s. The runtime's unique package keeps
// it only while some object still uses it, so no bound is needed.
func String(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// Fixed interns a message without digits: a message that names a run, a
// count or a time is one of a kind, and interning it would only add an
// entry per Cast.
func Fixed(s string) string {
	if strings.ContainsAny(s, "0123456789") {
		return s
	}
	return String(s)
}

// MaxLabelSets bounds the distinct label sets one LabelSets shares; past
// it, objects keep their own maps.
const MaxLabelSets = 1 << 14

// LabelSets hands out one map per distinct label set. The zero value is
// ready to use.
type LabelSets struct {
	mu   sync.Mutex
	sets map[string]map[string]string // by key
	key  []byte                       // key's scratch, under mu
}

// Share returns the shared map equal to m (a new map of interned strings
// the first time), or m itself once MaxLabelSets distinct sets are held.
func (l *LabelSets) Share(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.key = key(l.key[:0], m)
	if v, ok := l.sets[string(l.key)]; ok {
		return v
	}
	if len(l.sets) >= MaxLabelSets {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[String(k)] = String(v)
	}
	if l.sets == nil {
		l.sets = map[string]map[string]string{}
	}
	l.sets[string(l.key)] = out
	return out
}

// key appends an unambiguous encoding of m: its pairs in key order, each
// string prefixed with its length.
func key(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, s := range [2]string{k, m[k]} {
			dst = strconv.AppendInt(dst, int64(len(s)), 10)
			dst = append(dst, ':')
			dst = append(dst, s...)
		}
	}
	return dst
}
