package sse

import "unicode/utf8"

// appendDecoded appends b to dst with every maximal ill-formed subsequence
// replaced by one U+FFFD. That is the WHATWG "UTF-8 decode" replacement rule
// (Unicode's "maximal subpart" practice), which differs from both
// strings.ToValidUTF8 (one U+FFFD per run) and utf8.DecodeRune (one per
// byte); matching it is what makes the Parser report what a browser reports.
func appendDecoded(dst, b []byte) []byte {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			dst = append(dst, b[0])
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			n = maximalSubpart(b)
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

// maximalSubpart returns the length of the longest prefix of b that starts a
// well-formed UTF-8 sequence, but at least 1. It is only called when b does
// not start with a well-formed sequence, so it never consumes a whole one.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the next byte
	var need int                     // continuation bytes the lead byte announces
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0 // excludes overlong forms
	case c == 0xED:
		need, hi = 2, 0x9F // excludes surrogates
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90 // excludes overlong forms
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F // excludes code points above U+10FFFF
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}
