// Package nft keeps berth's packet filtering and NAT rules in nftables
// tables of its own, `ip berth` and `ip6 berth`, with google/nftables
// (netlink; no iptables or nft binary is run).
//
// The tables are shared by every berth root and project on the machine (the
// network namespace). Each rule carries a comment naming its owner — "base"
// for the jumps in the base chains, "net:<bridge>" for a network's rules,
// "ctr:<container id>" for a container's published ports — and every change
// replaces exactly one owner's rules in one atomic batch, under a
// machine-wide flock (Options.LockPath), so concurrent berth commands never
// lose each other's rules. A table is deleted when its last owned rule goes.
//
// Layout of each table:
//
//	prerouting  nat    hook prerouting  -100  fib daddr type local jump hostports
//	output      nat    hook output      -100  fib daddr type local jump hostports
//	hostports   (regular)  per container: [ip daddr H] l4proto P th dport N dnat to C:M
//	postrouting nat    hook postrouting  100  per network: masquerade outbound,
//	                                          hairpin, and 127.0.0.0/8-sourced
//	                                          traffic into the bridge
//	forward     filter hook forward        0  jump fwd-in; jump fwd-out (policy accept)
//	fwd-in      (regular)  per network, packets INTO the bridge: intra-bridge,
//	                        established and DNATed accepted, the rest dropped
//	                        (direct routing from the LAN, other networks)
//	fwd-out     (regular)  per network, packets FROM the bridge: accepted, or
//	                        dropped for internal networks
//	guard       filter hook prerouting     0  per network: from the bridge to
//	                                          127.0.0.0/8 unless DNATed: drop
//	                                          (CVE-2020-8558, route_localnet)
//
// Other firewalls: a DROP in any base chain wins over berth's accepts, so
// when the iptables-nft `ip filter` table has a DOCKER-USER chain (Docker) or
// a FORWARD chain, berth inserts accepts for its bridges there too (foreign.go),
// owned and removed the same way; likewise at the top of firewalld's
// `inet firewalld` filter_FORWARD chain. iptables-legacy tables cannot be
// reached through nftables.
package nft

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"

	"github.com/berthdev/berth/engine/state"
)

// TableName is the name of berth's tables (both families).
const TableName = "berth"

// DefaultLockPath is the machine-wide lock around rule changes.
const DefaultLockPath = "/run/berth-nft.lock"

// Options configure a Firewall.
type Options struct {
	// LockPath is the machine-wide lock file; "" means DefaultLockPath.
	LockPath string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Firewall changes berth's nftables rules. It is safe for concurrent use.
type Firewall struct {
	lockPath string
	log      *slog.Logger

	mu   sync.Mutex     // held with the machine-wide lock, around conn's use
	conn *nftables.Conn // kept between batches (see open); nil: none yet
}

// open takes the machine-wide lock and the Firewall's nftables connection,
// which end(err) gives back. The connection is kept for the next batch
// rather than closed: closing an nfnetlink socket while the kernel still
// has deleted rules to free (for an RCU grace period after a batch that
// deleted any, such as a container's ports at its stop) waits for them,
// 5-15 ms here, holding the namespace's nftables commit mutex. A batch
// that failed leaves the connection unusable (unsent messages, unread
// acknowledgements): it is dropped and closed in the background. The
// process's exit closes the last one.
func (f *Firewall) open(ctx context.Context) (*nftables.Conn, func(error), error) {
	l, err := state.Lock(ctx, f.lockPath)
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	if f.conn == nil {
		if f.conn, err = nftables.New(nftables.AsLasting()); err != nil {
			f.mu.Unlock()
			l.Unlock()
			return nil, nil, fmt.Errorf("nftables: %w", err)
		}
	}
	c := f.conn
	return c, func(err error) {
		if err != nil {
			f.conn = nil
			go c.CloseLasting() //nolint:errcheck // nothing to do about it
		}
		f.mu.Unlock()
		l.Unlock()
	}, nil
}

// New returns a Firewall.
func New(opts Options) *Firewall {
	f := &Firewall{lockPath: opts.LockPath, log: opts.Logger}
	if f.lockPath == "" {
		f.lockPath = DefaultLockPath
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f
}

// rule is one rule to add, in a chain of berth's table (Foreign selects a
// chain of another table, see foreign.go).
type rule struct {
	chain   string
	exprs   []expr.Any
	comment string
	foreign *nftables.Chain
}

// chainDef is a chain of berth's table.
type chainDef struct {
	name  string
	typ   nftables.ChainType
	hook  *nftables.ChainHook
	prio  *nftables.ChainPriority
	base  [][]expr.Any // the "base" rules it holds
	owned bool         // may hold owners' rules
}

func layout() []chainDef {
	return []chainDef{
		{name: "hostports", owned: true},
		{name: "fwd-in", owned: true},
		{name: "fwd-out", owned: true},
		{name: "prerouting", typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityNATDest,
			base: [][]expr.Any{seq(fibDaddrLocal(), jump("hostports"))}},
		{name: "output", typ: nftables.ChainTypeNAT, hook: nftables.ChainHookOutput, prio: nftables.ChainPriorityNATDest,
			base: [][]expr.Any{seq(fibDaddrLocal(), jump("hostports"))}},
		{name: "postrouting", typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPostrouting, prio: nftables.ChainPriorityNATSource, owned: true},
		{name: "forward", typ: nftables.ChainTypeFilter, hook: nftables.ChainHookForward, prio: nftables.ChainPriorityFilter,
			base: [][]expr.Any{jump("fwd-in"), jump("fwd-out")}},
		{name: "guard", typ: nftables.ChainTypeFilter, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityFilter, owned: true},
	}
}

const commentPrefix = "berth:"

func comment(owner, detail string) []byte {
	s := commentPrefix + owner
	if detail != "" {
		s += " " + detail
	}
	return userdata.AppendString(nil, userdata.TypeComment, s)
}

// ownerOf returns the owner and detail of a rule berth made ("" otherwise).
func ownerOf(r *nftables.Rule) (owner, detail string) {
	c, ok := userdata.GetString(r.UserData, userdata.TypeComment)
	if !ok || !strings.HasPrefix(c, commentPrefix) {
		return "", ""
	}
	owner, detail, _ = strings.Cut(strings.TrimPrefix(c, commentPrefix), " ")
	return owner, detail
}

// session is one locked batch on one family's table.
type session struct {
	conn   *nftables.Conn
	table  *nftables.Table
	chains map[string]*nftables.Chain // berth's chains, existing or added in this batch
	all    []*nftables.Chain          // every chain of the family, as listed
	fresh  bool                       // table is being created in this batch
	// missing: the table does not exist and is not being created.
	missing bool
	cache   map[string][]*nftables.Rule // rules already listed, by chain
}

// with runs fn with a session on fam's table under the machine-wide lock and
// flushes the batch fn built.
func (f *Firewall) with(ctx context.Context, fam nftables.TableFamily, create bool, fn func(s *session) error) (err error) {
	conn, end, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer func() { end(err) }()
	s := &session{conn: conn, table: &nftables.Table{Name: TableName, Family: fam}, chains: map[string]*nftables.Chain{},
		cache: map[string][]*nftables.Rule{}}
	if err := s.load(create); err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: apply rules: %w", err)
	}
	return nil
}

// withPorts is with for published ports, on the hot path of a container's
// start and stop: when the hostports chain exists, the table is taken as
// whole (its chains and base rules are made in one batch) and only that
// chain is read: two netlink round trips in all (when it holds rules).
func (f *Firewall) withPorts(ctx context.Context, fam nftables.TableFamily, create bool, fn func(s *session) error) (err error) {
	conn, end, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer func() { end(err) }()
	s := &session{conn: conn, table: &nftables.Table{Name: TableName, Family: fam}, chains: map[string]*nftables.Chain{},
		cache: map[string][]*nftables.Rule{}}
	hp := &nftables.Chain{Name: "hostports", Table: s.table}
	// A dump of a missing chain is empty, not an error: only rules prove
	// that the table is there.
	if cur, err := conn.GetRules(s.table, hp); err == nil && len(cur) > 0 {
		s.chains[hp.Name], s.cache[hp.Name] = hp, cur
	} else if err := s.load(create); err != nil { // no table yet, or damaged
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: apply rules: %w", err)
	}
	return nil
}

// load lists the family's chains and makes what is missing of berth's
// table (when create, or when the table exists).
func (s *session) load(create bool) error {
	chains, err := s.conn.ListChainsOfTableFamily(s.table.Family)
	if err != nil {
		return errUnavailable(fmt.Errorf("list chains: %w", err))
	}
	s.all = chains
	for _, c := range chains {
		if c.Table.Name == TableName {
			s.chains[c.Name] = c
		}
	}
	if len(s.chains) == 0 && !create {
		s.missing = true // nothing of berth's to remove (foreign rules may remain)
		return nil
	}
	return s.ensure()
}

// ensure adds the table, chains and base rules that are missing.
func (s *session) ensure() error {
	if len(s.chains) == 0 {
		s.conn.AddTable(s.table)
		s.fresh = true
	}
	for _, d := range layout() {
		c, ok := s.chains[d.name]
		if !ok {
			c = &nftables.Chain{Name: d.name, Table: s.table, Type: d.typ, Hooknum: d.hook, Priority: d.prio}
			if d.hook != nil {
				p := nftables.ChainPolicyAccept
				c.Policy = &p
			}
			s.conn.AddChain(c)
			s.chains[d.name] = c
		}
		if len(d.base) == 0 {
			continue
		}
		have := 0
		if ok {
			rs, err := s.conn.GetRules(s.table, c)
			if err != nil {
				return fmt.Errorf("nftables: list chain %s: %w", d.name, err)
			}
			for _, r := range rs {
				if o, _ := ownerOf(r); o == "base" {
					have++
				}
			}
		}
		if have == len(d.base) {
			continue
		}
		if have > 0 { // partial (someone edited it): rebuild the chain's base rules
			s.conn.FlushChain(c)
		}
		for _, e := range d.base {
			s.conn.AddRule(&nftables.Rule{Table: s.table, Chain: c, Exprs: e, UserData: comment("base", "")})
		}
	}
	return nil
}

// rules lists the rules of one of berth's chains (none when it is new or
// absent).
func (s *session) rules(chain string) ([]*nftables.Rule, error) {
	if s.fresh || s.missing {
		return nil, nil
	}
	if rs, ok := s.cache[chain]; ok {
		return rs, nil
	}
	c := s.chains[chain]
	if c == nil {
		c = &nftables.Chain{Name: chain, Table: s.table}
	}
	rs, err := s.conn.GetRules(s.table, c)
	if err != nil {
		if s.chains[chain] == nil {
			return nil, nil // not listed and not there
		}
		return nil, fmt.Errorf("nftables: list chain %s: %w", chain, err)
	}
	s.cache[chain] = rs
	return rs, nil
}

// replace deletes owner's rules from chains and adds rs.
func (s *session) replace(owner string, chains []string, rs []rule) error {
	for _, ch := range chains {
		cur, err := s.rules(ch)
		if err != nil {
			return err
		}
		for _, r := range cur {
			if o, _ := ownerOf(r); o == owner {
				if err := s.conn.DelRule(r); err != nil {
					return err
				}
			}
		}
	}
	for _, r := range rs {
		if r.foreign != nil || s.missing {
			continue
		}
		s.conn.AddRule(&nftables.Rule{Table: s.table, Chain: s.chains[r.chain], Exprs: r.exprs, UserData: comment(owner, r.comment)})
	}
	return nil
}

// dropIfEmpty deletes the table when, after removing owner's rules, no
// other owner has a rule in it.
func (s *session) dropIfEmpty(owner string) error {
	if s.missing {
		return nil
	}
	for _, d := range layout() {
		if !d.owned {
			continue
		}
		cur, err := s.rules(d.name)
		if err != nil {
			return err
		}
		for _, r := range cur {
			if o, _ := ownerOf(r); o != "" && o != owner && o != "base" {
				return nil
			}
		}
	}
	s.conn.DelTable(s.table)
	return nil
}

// Owners lists the owners that have rules in berth's tables (both
// families), for sweeping leftovers.
func (f *Firewall) Owners(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		err := f.with(ctx, fam, false, func(s *session) error {
			for _, d := range layout() {
				rs, err := s.rules(d.name)
				if err != nil {
					return err
				}
				for _, r := range rs {
					if o, _ := ownerOf(r); o != "" && o != "base" {
						out[o] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errUnavailable wraps a netlink failure that means nftables cannot be used.
func errUnavailable(err error) error {
	return fmt.Errorf("nftables unavailable: %w: %w", err, errdefs.ErrUnavailable)
}
