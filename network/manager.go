package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berthdev/berth/engine/state"
	"github.com/berthdev/berth/internal/names"
	"github.com/berthdev/berth/network/ipam"
	"github.com/berthdev/berth/network/nft"
)

// Options configure a Manager.
type Options struct {
	// Paths is the berth root whose networks the manager handles.
	Paths state.Paths
	// Pools are the candidate subnets, in order; nil means Docker's
	// defaults (ipam.DefaultPools).
	Pools []netip.Prefix
	// LockDir holds the machine-wide locks (berth-net.lock,
	// berth-nft.lock); "" means /run. Every berth on the machine must use
	// the same one.
	LockDir string
	// UserlandProxy serves published ports with a proxy in the process that
	// calls Attach instead of nftables DNAT (for hosts without nf_tables).
	UserlandProxy bool
	// ResolvConf is the host's resolver configuration the embedded DNS
	// servers forward to; "" means /etc/resolv.conf.
	ResolvConf string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Manager creates networks and attaches containers to them. It is safe for
// concurrent use, and several processes may use the same root at once.
type Manager struct {
	paths      state.Paths
	pools      []netip.Prefix
	netLock    string
	fw         *nft.Firewall
	leases     *ipam.Store
	proxy      bool
	resolvConf string
	log        *slog.Logger

	links     hostLinks
	endpoints *table // the root's endpoint records
	self      struct {
		pid   int
		start uint64
	}

	mu   sync.Mutex
	live map[string]*liveEndpoint // by container ID: what this process holds
}

// New returns a Manager for opts.Paths.
func New(opts Options) (*Manager, error) {
	if opts.Paths.Root == "" || opts.Paths.Run == "" {
		return nil, fmt.Errorf("network: Paths must be set: %w", errdefs.ErrInvalidArgument)
	}
	m := &Manager{
		paths:      opts.Paths,
		pools:      opts.Pools,
		proxy:      opts.UserlandProxy,
		resolvConf: opts.ResolvConf,
		log:        opts.Logger,
		live:       map[string]*liveEndpoint{},
	}
	if m.pools == nil {
		m.pools = ipam.DefaultPools()
	}
	lockDir := opts.LockDir
	if lockDir == "" {
		lockDir = "/run"
	}
	m.netLock = filepath.Join(lockDir, "berth-net.lock")
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.resolvConf == "" {
		m.resolvConf = "/etc/resolv.conf"
	}
	m.fw = nft.New(nft.Options{LockPath: filepath.Join(lockDir, "berth-nft.lock"), Logger: m.log})
	run := filepath.Join(opts.Paths.Run, "networks")
	m.leases = ipam.NewStore(filepath.Join(run, "leases"), m.recoverLeases)
	m.endpoints = &table{base: filepath.Join(run, "endpoints")}
	m.self.pid = os.Getpid()
	if st, err := pidStart(m.self.pid); err == nil {
		m.self.start = st
	}
	return m, nil
}

// Spec is a network to create, as the scheduler resolved it from compose.
type Spec struct {
	// Name is the network's name (compose's `name:`, by default
	// "<project>_<key>").
	Name   string
	Labels map[string]string
	// Driver is "" or "bridge"; others are not supported.
	Driver string
	// Internal networks have no way out (no NAT, nothing forwarded).
	Internal bool
	// EnableIPv6 gives the network an IPv6 subnet too.
	EnableIPv6 bool
	// External networks are not created: they must exist.
	External bool
	// IPAM is compose's ipam.config: at most one IPv4 and one IPv6 entry.
	IPAM []IPAMConfig
	// Options are driver_opts; "com.docker.network.driver.mtu" is honoured.
	Options map[string]string
}

// IPAMConfig is one ipam.config entry; empty fields are chosen by berth.
type IPAMConfig struct {
	Subnet, Gateway, IPRange string
}

// Network is a network as it exists.
type Network struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Driver string `json:"driver"`
	// Bridge is the kernel name of the bridge.
	Bridge      string            `json:"bridge"`
	Subnet      string            `json:"subnet"`
	Gateway     string            `json:"gateway"`
	IPRange     string            `json:"ip_range,omitempty"`
	IPv6Subnet  string            `json:"ipv6_subnet,omitempty"`
	IPv6Gateway string            `json:"ipv6_gateway,omitempty"`
	MTU         int               `json:"mtu"`
	Labels      map[string]string `json:"labels,omitempty"`
	Options     map[string]string `json:"options,omitempty"`
	Internal    bool              `json:"internal,omitempty"`
	EnableIPv6  bool              `json:"enable_ipv6,omitempty"`
	Created     time.Time         `json:"created"`
	// Containers are the attached containers (filled by Inspect and List).
	Containers []Endpoint `json:"-"`
}

// checkName checks docker's network name syntax.
func checkName(name string) error {
	if !names.Valid(name, 1, 200) {
		return fmt.Errorf("network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (m *Manager) netDir() string             { return m.paths.Networks() }
func (m *Manager) netFile(name string) string { return filepath.Join(m.netDir(), name+".json") }
func (m *Manager) rootLock() string           { return filepath.Join(m.netDir(), "lock") }

// load reads a network's state; ErrNotFound when it does not exist.
func (m *Manager) load(name string) (*Network, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	n := &Network{}
	if err := state.ReadJSON(m.netFile(name), n); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
		}
		return nil, err
	}
	return n, nil
}

// Create makes the network, or returns it as is when it exists (its bridge
// and rules are re-made if a reboot took them). External networks must
// exist. On error nothing of it is left.
func (m *Manager) Create(ctx context.Context, spec Spec) (_ *Network, err error) {
	if err := checkName(spec.Name); err != nil {
		return nil, err
	}
	if spec.External {
		n, err := m.Inspect(ctx, spec.Name)
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("network %s declared as external, but could not be found; create it with `berth network create %s`: %w",
				spec.Name, spec.Name, errdefs.ErrNotFound)
		}
		return n, err
	}
	switch spec.Driver {
	case "", "bridge":
	default:
		return nil, fmt.Errorf("network %q: driver %q is not supported (only bridge): %w", spec.Name, spec.Driver, errdefs.ErrNotImplemented)
	}
	l, err := state.Lock(ctx, m.rootLock())
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if n, err := m.load(spec.Name); err == nil {
		return n, m.ensure(ctx, n)
	} else if !errdefs.IsNotFound(err) {
		return nil, err
	}
	n, err := m.newNetwork(spec)
	if err != nil {
		return nil, err
	}
	if err := m.makeBridge(ctx, n, spec.IPAM); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.removeKernel(context.WithoutCancel(ctx), n)
		}
	}()
	if err := m.addRules(ctx, n); err != nil {
		return nil, err
	}
	if err := state.WriteJSON(m.netFile(n.Name), n, true); err != nil {
		return nil, fmt.Errorf("network %q: save: %w", n.Name, err)
	}
	m.log.Debug("network created", "name", n.Name, "bridge", n.Bridge, "subnet", n.Subnet)
	return n, nil
}

func (m *Manager) newNetwork(spec Spec) (*Network, error) {
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	n := &Network{
		Name:       spec.Name,
		ID:         hex.EncodeToString(id[:]),
		Driver:     "bridge",
		Labels:     maps.Clone(spec.Labels),
		Options:    maps.Clone(spec.Options),
		Internal:   spec.Internal,
		EnableIPv6: spec.EnableIPv6,
		MTU:        1500,
		Created:    time.Now().UTC(),
	}
	n.Bridge = "berth" + n.ID[:10]
	if v := spec.Options["com.docker.network.driver.mtu"]; v != "" {
		mtu, err := strconv.Atoi(v)
		if err != nil || mtu < 68 || mtu > 65535 {
			return nil, fmt.Errorf("network %q: driver_opts com.docker.network.driver.mtu %q is not a valid MTU: %w", spec.Name, v, errdefs.ErrInvalidArgument)
		}
		n.MTU = mtu
	}
	return n, nil
}

// ensureBridge re-makes a network's bridge and rules when the bridge is
// missing (after a reboot), under the root's lock: concurrent attaches make
// it once.
func (m *Manager) ensureBridge(ctx context.Context, n *Network) error {
	l, err := state.Lock(ctx, m.rootLock())
	if err != nil {
		return err
	}
	defer l.Unlock()
	if bridgeExists(n.Bridge) {
		return nil
	}
	return m.ensure(ctx, n)
}

// ensure re-makes a network's bridge and rules when they are missing (after
// a reboot, or a crash in Remove). The caller holds the root's lock.
func (m *Manager) ensure(ctx context.Context, n *Network) error {
	if bridgeExists(n.Bridge) {
		return m.addRules(ctx, n)
	}
	cfg := []IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange}}
	if n.IPv6Subnet != "" {
		cfg = append(cfg, IPAMConfig{Subnet: n.IPv6Subnet, Gateway: n.IPv6Gateway})
	}
	if err := m.makeBridge(ctx, n, cfg); err != nil {
		return err
	}
	return m.addRules(ctx, n)
}

func (m *Manager) addRules(ctx context.Context, n *Network) error {
	r := nft.Network{Bridge: n.Bridge, Internal: n.Internal}
	r.Subnet, _ = netip.ParsePrefix(n.Subnet)
	if n.IPv6Subnet != "" {
		r.Subnet6, _ = netip.ParsePrefix(n.IPv6Subnet)
	}
	if err := m.fw.AddNetwork(ctx, r); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	return nil
}

// Inspect returns a network with its attached containers.
func (m *Manager) Inspect(ctx context.Context, name string) (*Network, error) {
	n, err := m.load(name)
	if err != nil {
		return nil, err
	}
	n.Containers, err = m.endpointsOf(n.Name)
	return n, err
}

// List returns the networks whose labels include every given label (a ""
// value matches any value), sorted by name.
func (m *Manager) List(ctx context.Context, labels map[string]string) ([]*Network, error) {
	ents, err := os.ReadDir(m.netDir())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		n, err := m.Inspect(ctx, name)
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			return nil, err
		}
		if matchLabels(n.Labels, labels) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		hv, ok := have[k]
		if !ok || (v != "" && hv != v) {
			return false
		}
	}
	return true
}

// Remove deletes the network: its bridge, rules and leases. A
// network that does not exist is success. A network with live containers
// is an ErrConflict naming them; endpoints of dead containers are cleaned.
func (m *Manager) Remove(ctx context.Context, name string) error {
	l, err := state.Lock(ctx, m.rootLock())
	if err != nil {
		return err
	}
	defer l.Unlock()
	n, err := m.load(name)
	if errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	eps, err := m.endpointsOf(name)
	if err != nil {
		return err
	}
	var busy []string
	for _, ep := range eps {
		done, err := m.tryDetach(context.WithoutCancel(ctx), ep.ContainerID, (*endpointRecord).alive)
		if err != nil {
			return err
		}
		if !done {
			busy = append(busy, ep.ContainerName)
		}
	}
	if len(busy) > 0 {
		sort.Strings(busy)
		return fmt.Errorf("network %s has active endpoints (%s); stop or remove them first: %w", name, strings.Join(busy, ", "), errdefs.ErrConflict)
	}
	ctx = context.WithoutCancel(ctx)
	if err := m.removeKernel(ctx, n); err != nil {
		return err
	}
	if err := m.leases.Drop(ctx, name); err != nil {
		return err
	}
	if err := os.Remove(m.netFile(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m.log.Debug("network removed", "name", name, "bridge", n.Bridge)
	return nil
}

// removeKernel deletes a network's rules and bridge (gone is success).
func (m *Manager) removeKernel(ctx context.Context, n *Network) error {
	if err := m.fw.RemoveNetwork(ctx, n.Bridge); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	h, err := m.links.handle()
	if err != nil {
		return err
	}
	if err := deleteBridgeAndPorts(h, n.Bridge); err != nil {
		return fmt.Errorf("network %q: delete bridge %s: %w", n.Name, n.Bridge, err)
	}
	return nil
}
