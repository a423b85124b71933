package nft

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// Other firewalls on the same hook: a packet passes only if every base chain
// accepts it, so a DROP policy set by Docker (iptables FORWARD) or by the
// admin drops berth's container traffic whatever berth's own table says.
// When the iptables-nft `filter` table of the family has a DOCKER-USER chain
// (Docker's place for user rules, evaluated first in FORWARD), berth inserts
// its accepts there; else, when it has a FORWARD chain, at the top of that.
// The rules are tagged with the network's owner like berth's own and removed
// with the network.

const foreignTable = "filter"

var foreignChainNames = []string{"DOCKER-USER", "FORWARD"}

// xtCtState is iptables' `-m conntrack --ctstate S`: the foreign chains are
// iptables-nft's, whose tools (and Docker through them) refuse to list a
// chain holding native `ct` expressions, so berth speaks their dialect there.
func xtCtState(mask uint16) []expr.Any {
	return []expr.Any{&expr.Match{Name: "conntrack", Rev: 3, Info: &xt.ConntrackMtinfo3{
		ConntrackMtinfo2: xt.ConntrackMtinfo2{
			ConntrackMtinfoBase: xt.ConntrackMtinfoBase{MatchFlags: uint16(xt.ConntrackState)},
			StateMask:           mask,
		},
	}}}
}

// xt_conntrack state bits (linux/netfilter/xt_conntrack.h).
const (
	xtStateEstablished = 1 << 1
	xtStateRelated     = 1 << 2
	xtStateDNAT        = 1 << 7
)

// foreignRules are the accepts a network needs in another firewall's
// forward chain: its own outbound traffic, replies and DNATed (published)
// traffic into it, and traffic between its own ports.
func foreignRules(n Network) []rule {
	b := n.Bridge
	if n.Internal {
		return []rule{{exprs: seq(matchIIF(b), matchOIF(b), accept())}}
	}
	return []rule{
		{exprs: seq(matchIIF(b), accept())},
		{exprs: seq(matchOIF(b), xtCtState(xtStateEstablished|xtStateRelated), accept())},
		{exprs: seq(matchOIF(b), xtCtState(xtStateDNAT), accept())},
	}
}

// foreignChains returns the candidate chains present, in preference order.
func (s *session) foreignChains() []*nftables.Chain {
	var out []*nftables.Chain
	for _, name := range foreignChainNames {
		for _, c := range s.all {
			if c.Table.Name == foreignTable && c.Name == name {
				out = append(out, c)
			}
		}
	}
	return out
}

// replaceForeign removes owner's rules from the candidate chains and inserts
// rs at the top of the preferred one.
func (s *session) replaceForeign(owner string, rs []rule) error {
	chains := s.foreignChains()
	for _, c := range chains {
		cur, err := s.conn.GetRules(c.Table, c)
		if err != nil {
			return fmt.Errorf("nftables: list %s %s: %w", c.Table.Name, c.Name, err)
		}
		for _, r := range cur {
			if o, _ := ownerOf(r); o == owner {
				if err := s.conn.DelRule(r); err != nil {
					return err
				}
			}
		}
	}
	if len(chains) == 0 || len(rs) == 0 {
		return nil
	}
	target := chains[0]
	// Inserting puts a rule first: go backwards to keep rs's order.
	for i := len(rs) - 1; i >= 0; i-- {
		s.conn.InsertRule(&nftables.Rule{Table: target.Table, Chain: target, Exprs: rs[i].exprs, UserData: comment(owner, "")})
	}
	return nil
}

// firewalld (nftables backend) keeps its rules in `inet firewalld`; its
// filter_FORWARD chain rejects forwarded traffic of interfaces in no zone
// that allows forwarding, which berth's bridges are. berth inserts its
// accepts at the top of that chain (firewalld drops them when it reloads;
// the next create of the network puts them back).
const (
	firewalldTable = "firewalld"
	firewalldChain = "filter_FORWARD"
)

// firewalldRules are foreignRules in native expressions (firewalld's table
// is nftables-native).
func firewalldRules(n Network) []rule {
	b := n.Bridge
	if n.Internal {
		return []rule{{exprs: seq(matchIIF(b), matchOIF(b), accept())}}
	}
	return []rule{
		{exprs: seq(matchIIF(b), accept())},
		{exprs: seq(matchOIF(b), ctEstablished(), accept())},
		{exprs: seq(matchOIF(b), ctStatus(ipsDstNAT, true), accept())},
	}
}

// replaceFirewalld replaces owner's rules in firewalld's forward chain, if
// firewalld's table is there.
func (f *Firewall) replaceFirewalld(ctx context.Context, owner string, rs []rule) (err error) {
	c, end, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer func() { end(err) }()
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return errUnavailable(err)
	}
	for _, ch := range chains {
		if ch.Table.Name != firewalldTable || ch.Name != firewalldChain {
			continue
		}
		cur, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return fmt.Errorf("nftables: list %s %s: %w", firewalldTable, firewalldChain, err)
		}
		for _, r := range cur {
			if o, _ := ownerOf(r); o == owner {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
		for i := len(rs) - 1; i >= 0; i-- {
			c.InsertRule(&nftables.Rule{Table: ch.Table, Chain: ch, Exprs: rs[i].exprs, UserData: comment(owner, "")})
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("nftables: firewalld's forward chain: %w", err)
		}
	}
	return nil
}
