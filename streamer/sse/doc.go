// Package sse frames and parses Server-Sent Events as defined by the WHATWG
// HTML standard, section "Server-sent events" (event stream interpretation).
//
// The writer half exists so the streamer's HTTP handler can emit frames that
// a browser's EventSource is guaranteed to split back into the same events;
// it is allocation-free when given a reused buffer, because one event is
// typically fanned out to many clients.
//
// The parser half exists so Go code (tests, clients, envtest suites) observes
// a stream exactly as a browser would: the same line splitting (CRLF, LF or
// lone CR), the same UTF-8 decoding with U+FFFD replacement, the same
// dispatch rules and the same last-event-ID bookkeeping. Tests that use it
// therefore assert what real consumers see, not what a lenient reader sees.
//
// Both halves are pure: no goroutines, no network, no clocks.
package sse
