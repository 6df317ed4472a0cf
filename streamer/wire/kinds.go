package wire

import (
	"fmt"
	"strings"
)

// EventsParam is the query parameter of every stream endpoint that names
// the event types a client wants (?events=complete,deleted).
const EventsParam = "events"

// KindSet is a set of event types: what one stream sends. A client that
// only waits for outcomes asks for complete and deleted and is spared
// every progress tick of every Cast in its scope.
type KindSet uint8

// The bit of each event type. Synced has one so that a set can name it,
// but every stream sends synced whatever its set: it is not a change.
const (
	kindBitStatus KindSet = 1 << iota
	kindBitProgress
	kindBitComplete
	kindBitDeleted
	kindBitSynced
)

// AllKinds is every event type: what a stream sends when the client names
// none.
const AllKinds = kindBitStatus | kindBitProgress | kindBitComplete | kindBitDeleted | kindBitSynced

// filterable lists, in the order error messages name them, the event
// types a client may leave out.
var filterable = []Kind{KindStatus, KindProgress, KindComplete, KindDeleted}

func bitOf(k Kind) KindSet {
	switch k {
	case KindStatus:
		return kindBitStatus
	case KindProgress:
		return kindBitProgress
	case KindComplete:
		return kindBitComplete
	case KindDeleted:
		return kindBitDeleted
	case KindSynced:
		return kindBitSynced
	}
	return 0
}

// KindsOf is the set of the given types, plus synced; unknown types are
// left out (ParseKinds is the checked way in).
func KindsOf(kinds ...Kind) KindSet {
	s := kindBitSynced
	for _, k := range kinds {
		s |= bitOf(k)
	}
	return s
}

// Has reports whether the set holds k. The zero set holds every type, so
// a zero value means "no filter".
func (s KindSet) Has(k Kind) bool {
	if s == 0 {
		return true
	}
	return s&bitOf(k) != 0
}

// All reports whether the set sends every change: no filtering at all.
func (s KindSet) All() bool { return s == 0 || s&AllKinds == AllKinds }

// String is the set as the events parameter spells it, in the order of
// filterable; "" for every type, "synced" for none but synced.
func (s KindSet) String() string {
	if s.All() {
		return ""
	}
	var names []string
	for _, k := range filterable {
		if s.Has(k) {
			names = append(names, string(k))
		}
	}
	if len(names) == 0 {
		return string(KindSynced)
	}
	return strings.Join(names, ",")
}

// ParseKinds reads the events parameter: event type names separated by
// commas, spaces around them ignored. Empty (or only commas) means every
// type. Naming synced is allowed and changes nothing: it is always sent.
// An unknown name is an error that names it and the valid ones, for the
// streamer's 400 and for a client's flag check alike.
func ParseKinds(v string) (KindSet, error) {
	s := kindBitSynced
	named := false
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		bit := bitOf(Kind(name))
		if bit == 0 {
			return 0, fmt.Errorf("unknown event type %q in %s: want %s", name, EventsParam, filterableList())
		}
		s |= bit
		named = true
	}
	if !named {
		return AllKinds, nil
	}
	return s, nil
}

// Kinds lists the change types in the set, in the order String names
// them; nil for every type (no filter), empty for synced alone.
func (s KindSet) Kinds() []Kind {
	if s.All() {
		return nil
	}
	out := []Kind{}
	for _, k := range filterable {
		if s.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

func filterableList() string {
	names := make([]string, len(filterable))
	for i, k := range filterable {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
