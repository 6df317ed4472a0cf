package hub

import (
	"bytes"
	"cmp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/spell-platform/cast-operator/streamer/sse"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// id is the state's event id: its last status change's resourceVersion,
// or the object's own when that is not a number etcd made.
func (st state) id() string {
	if st.rv > 0 {
		return strconv.FormatInt(st.rv, 10)
	}
	return st.cast.ResourceVersion
}

// resting is the state as an update for a client that missed how it came
// about: "status", or "complete" once final. Its JSON is rendered when it
// is written (AppendEvent), not kept.
func (st state) resting(key types.NamespacedName) Update {
	terminal := st.cast.Status.Phase.IsTerminal()
	return Update{Kind: stateKind(terminal), Key: key, ID: st.id(), rv: st.rv, terminal: terminal, cast: st.cast}
}

// data renders the state's JSON at time now. Its resourceVersion is the
// event id, as in the live update that announced the state, even when a
// metadata-only update replaced the object since.
func (st state) data(now time.Time) []byte {
	snap := st.cast.snapshot(now)
	snap.ResourceVersion = st.id()
	return encode(snap)
}

// AppendEvent appends the update's SSE frame with the given kind to dst.
// A resting state from a snapshot or resume is rendered here, as the
// stream writes it, so a full snapshot never holds every Cast's JSON at
// once.
func (u *Update) AppendEvent(dst []byte, kind wire.Kind) ([]byte, error) {
	data := u.Data
	if data == nil && u.cast != nil {
		data = state{cast: u.cast, rv: u.rv}.data(time.Now())
	}
	return sse.AppendEvent(dst, sse.Event{ID: u.ID, Event: string(kind), Data: data})
}

// compareKeys orders keys as their "namespace/name" strings do, without
// building them.
func compareKeys(a, b types.NamespacedName) int {
	if a.Namespace == b.Namespace {
		return strings.Compare(a.Name, b.Name)
	}
	n := min(len(a.Namespace), len(b.Namespace))
	if c := strings.Compare(a.Namespace[:n], b.Namespace[:n]); c != 0 {
		return c
	}
	// One namespace is a prefix of the other: the shorter one's "/" meets
	// the longer one's next byte.
	if len(a.Namespace) < len(b.Namespace) {
		return cmp.Compare('/', b.Namespace[n])
	}
	return cmp.Compare(a.Namespace[n], '/')
}

// compact keeps one right-sized copy of a tombstone's bytes: the frame,
// cloned to its length (append growth leaves up to half of a buffer
// unused), with Data pointing into it, where the same JSON already is.
func (u *Update) compact() {
	f := bytes.Clone(u.frame)
	if i := len(f) - 2 - len(u.Data); i >= 0 && bytes.Equal(f[i:i+len(u.Data)], u.Data) {
		u.Data = f[i : i+len(u.Data) : i+len(u.Data)]
	}
	u.frame = f
}

func stateKind(terminal bool) wire.Kind {
	if terminal {
		return wire.KindComplete
	}
	return wire.KindStatus
}
