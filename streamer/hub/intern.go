package hub

import (
	"slices"
	"strconv"
	"sync"
)

// maxInterned bounds each intern table. A full table is emptied and
// refilled: objects keep the copies they were given, later ones share new
// copies, so a table never pins more than this many values, however many
// distinct ones the Casts of a long-lived replica carry.
const maxInterned = 1 << 14

// interner gives Casts that carry equal strings or equal label sets one
// shared copy instead of each its own (the API server's JSON decodes every
// string and map anew). Namespaces, repositories, phases, typical
// messages and label sets repeat across thousands of Casts. What it hands
// out lives in cached objects, which nothing modifies.
type interner struct {
	mu     sync.Mutex
	strs   map[string]string
	labels map[string]map[string]string // by labelsKey
	key    []byte                       // labelsKey's scratch, under mu
}

var shared = newInterner()

func newInterner() *interner {
	return &interner{strs: map[string]string{}, labels: map[string]map[string]string{}}
}

// str returns the shared copy of s.
func (in *interner) str(s string) string {
	if s == "" {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.strLocked(s)
}

func (in *interner) strLocked(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) >= maxInterned {
		clear(in.strs)
	}
	in.strs[s] = s
	return s
}

// labelSet returns the shared copy of the label set m (a new map of
// interned strings the first time).
func (in *interner) labelSet(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.key = labelsKey(in.key[:0], m)
	if v, ok := in.labels[string(in.key)]; ok {
		return v
	}
	if len(in.labels) >= maxInterned {
		clear(in.labels)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[in.strLocked(k)] = in.strLocked(v)
	}
	in.labels[string(in.key)] = out
	return out
}

// labelsKey appends an unambiguous encoding of m: its pairs in key order,
// each string prefixed with its length.
func labelsKey(dst []byte, m map[string]string) []byte {
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
