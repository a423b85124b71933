package network

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Sweep removes what killed berth commands and dead containers left in this
// root: the endpoints (ports, DNS records, leases, veths) of containers
// whose process is gone, leases and records nobody owns any more, and
// bridges (with their rules) that carry this root's alias but belong to no
// network. It never touches another root's objects.
func (m *Manager) Sweep(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	recs, err := m.endpointRecords()
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, r := range recs {
		if r.alive() {
			live[r.ContainerID] = true
			continue
		}
		if err := m.detach(ctx, r.ContainerID); err != nil {
			errs = append(errs, err)
		}
	}
	// Leases and records whose owner has no live endpoint.
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
	for _, n := range m.recordNetworks() {
		if rs, err := m.records.Read(n); err == nil {
			for _, r := range rs {
				if !live[r.ID] {
					if err := m.records.Delete(ctx, n, r.ID); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		if _, err := m.load(n); err != nil {
			_ = m.records.Drop(ctx, n)
		}
	}
	if err := m.sweepBridges(ctx); err != nil {
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

// recordNetworks lists the networks with a DNS record file.
func (m *Manager) recordNetworks() []string {
	var out []string
	nets, _ := m.leases.Networks()
	seen := map[string]bool{}
	for _, n := range nets {
		seen[n] = true
		out = append(out, n)
	}
	for _, n := range m.records.Networks() {
		if !seen[n] {
			out = append(out, n)
		}
	}
	return out
}
