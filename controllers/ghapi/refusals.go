package ghapi

import (
	"strings"
	"time"
)

type refusal struct {
	err   error
	until time.Time
}

// maxRefusals bounds the remembered refusals.
const maxRefusals = 1024

func (c *Client) refused(repository string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.refusals[strings.ToLower(repository)]
	if ok && time.Now().Before(r.until) {
		return r.err
	}
	return nil
}

func (c *Client) rememberRefusal(repository string, err error) {
	ae, ok := AccessProblem(err)
	if !ok {
		return
	}
	if ae.Repository == "" {
		ae.Repository = repository
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusals == nil || len(c.refusals) >= maxRefusals {
		c.refusals = map[string]refusal{}
	}
	c.refusals[strings.ToLower(repository)] = refusal{err: ae, until: time.Now().Add(notInstalledTTL)}
}
