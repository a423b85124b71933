package network

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
)

// Sweep removes what killed berth commands and dead containers left in this
// root: the endpoints (ports, DNS names, leases, veths) of containers
// whose process is gone, leases nobody owns any more, and
// bridges (with their rules) that carry this root's alias but belong to no
// network. It never touches another root's objects.
func (m *Manager) Sweep(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	ids, err := m.endpointIDs()
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, id := range ids {
		done, err := m.tryDetach(ctx, id, (*endpointRecord).alive)
		if err != nil {
			errs = append(errs, err)
		}
		if !done {
			live[id] = true // alive, or being attached or detached right now
		}
	}
	// Leases whose owner has no live endpoint.
	nets, err := m.leases.Networks()
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range nets {
		if err := m.leases.Prune(ctx, n, func(owner string) bool { return live[owner] }); err != nil {
			errs = append(errs, err)
		}
		if _, err := m.load(n); err != nil { // network removed: drop its files
			_ = m.leases.Drop(ctx, n)
		}
	}
	if err := m.sweepBridges(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := m.sweepRules(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network sweep: %w", err)
	}
	return nil
}

// sweepBridges deletes this root's bridges that have no network state (a
// Create killed before it saved, a Remove killed after it dropped the state).
func (m *Manager) sweepBridges(ctx context.Context) error {
	links, err := netlink.LinkList()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		root, name, ok := parseAlias(l.Attrs().Alias)
		if !ok || root != m.paths.Root || l.Type() != "bridge" {
			continue
		}
		if n, err := m.load(name); err == nil && n.Bridge == l.Attrs().Name {
			continue
		}
		m.log.Debug("sweep: removing leftover bridge", "bridge", l.Attrs().Name, "network", name)
		if err := m.fw.RemoveNetwork(ctx, l.Attrs().Name); err != nil {
			errs = append(errs, err)
		}
		if err := deleteLink(l.Attrs().Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweepRules removes the nftables rules of networks whose bridge is gone
// (deleted by hand): they match no traffic, but keep berth's table alive.
// Rules only exist while their bridge does (Create makes the bridge first,
// Remove deletes the rules first), so this is safe for any root's.
func (m *Manager) sweepRules(ctx context.Context) error {
	owners, err := m.fw.Owners(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for o := range owners {
		br, ok := strings.CutPrefix(o, "net:")
		if !ok || !strings.HasPrefix(br, "berth") {
			continue
		}
		if _, err := netlink.LinkByName(br); err == nil {
			continue
		}
		if err := m.fw.RemoveNetwork(ctx, br); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
