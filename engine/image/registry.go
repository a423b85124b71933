package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryConfig is the part of berth's config file about registries, in
// the keys of Docker's daemon.json.
type registryConfig struct {
	// Mirrors are tried, in order, before Docker Hub for docker.io images.
	Mirrors []string `json:"registry-mirrors"`
	// Insecure are registries ("host[:port]" or CIDR) spoken to over plain
	// HTTP (after HTTPS fails).
	Insecure []string `json:"insecure-registries"`
}

// loadRegistryConfig reads path; "" or a missing file is an empty config.
func loadRegistryConfig(path string) (registryConfig, error) {
	var c registryConfig
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("berth config %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("berth config %s: %v: fix the JSON (keys \"registry-mirrors\", \"insecure-registries\"): %w",
			path, err, errdefs.ErrInvalidArgument)
	}
	for _, m := range c.Mirrors {
		if _, err := parseMirror(m); err != nil {
			return c, fmt.Errorf("berth config %s: registry-mirrors: %w", path, err)
		}
	}
	return c, nil
}

// isInsecure reports whether host (a registry "host[:port]") is spoken to
// over plain HTTP: localhost and 127.0.0.0/8 always (as docker), and the
// configured insecure registries (names or CIDRs).
func (c registryConfig) isInsecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, entry := range c.Insecure {
		entry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(entry, "http://"), "https://"), "/")
		if entry == host || entry == h {
			return true
		}
		if _, cidr, err := net.ParseCIDR(entry); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// parseMirror turns a registry-mirrors entry ("https://mirror.example",
// "http://127.0.0.1:5001") into its host and whether it is plain HTTP.
func parseMirror(m string) (mirror, error) {
	if !strings.Contains(m, "://") {
		m = "https://" + m
	}
	u, err := url.Parse(m)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return mirror{}, fmt.Errorf("mirror %q is not an http(s) URL: %w", m, errdefs.ErrInvalidArgument)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return mirror{}, fmt.Errorf("mirror %q: a path is not supported, give the registry's root URL: %w", m, errdefs.ErrInvalidArgument)
	}
	return mirror{host: u.Host, plainHTTP: u.Scheme == "http"}, nil
}

type mirror struct {
	host      string
	plainHTTP bool
}

// endpoint is one registry a pull talks to, with an authenticated
// transport scoped to the repository.
type endpoint struct {
	registry name.Registry
	repo     name.Repository
	rt       http.RoundTripper
	// mirror is set for a registry-mirrors entry.
	mirror bool
}

// endpoints returns where named may be pulled from, in order: the mirrors
// (docker.io images only), then the registry itself. Transports are made
// lazily by connect.
func (s *Store) endpoints(named reference.Named) ([]endpoint, error) {
	host := registryHost(named)
	var out []endpoint
	if host == "docker.io" {
		for _, m := range s.reg.Mirrors {
			mm, err := parseMirror(m)
			if err != nil {
				return nil, err
			}
			var opts []name.Option
			if mm.plainHTTP || s.reg.isInsecure(mm.host) {
				opts = append(opts, name.Insecure)
			}
			repo, err := name.NewRepository(mm.host+"/"+repoPath(named), opts...)
			if err != nil {
				return nil, fmt.Errorf("mirror %s: %w", m, err)
			}
			out = append(out, endpoint{registry: repo.Registry, repo: repo, mirror: true})
		}
	}
	var opts []name.Option
	if s.reg.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(host+"/"+repoPath(named), opts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %v: %w", named, err, errdefs.ErrInvalidArgument)
	}
	return append(out, endpoint{registry: repo.Registry, repo: repo}), nil
}

// connect pings the endpoint's registry and sets up authentication (basic,
// or a bearer token for pull access, anonymous when no credentials).
func (s *Store) connect(ctx context.Context, ep *endpoint, push bool) error {
	auth, err := s.keychain.Resolve(ep.registry)
	if err != nil {
		return fmt.Errorf("registry %s: credentials: %w", ep.registry, err)
	}
	scope := ep.repo.Scope(transport.PullScope)
	if push {
		scope = ep.repo.Scope(transport.PushScope)
	}
	base := transport.NewRetry(s.transport)
	rt, err := transport.NewWithContext(ctx, ep.registry, auth, base, []string{scope})
	if err != nil {
		return registryError(ep.registry.String(), err)
	}
	ep.rt = rt
	return nil
}

// registryError wraps an error from a registry with an errdefs kind, the
// registry's answer (status and diagnostics, without the request URL) and
// what to do.
func registryError(reg string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		answer := fmt.Sprintf("registry %s answered %d %s", reg, terr.StatusCode, http.StatusText(terr.StatusCode))
		var diags []string
		for _, d := range terr.Errors {
			diags = append(diags, d.String())
		}
		if len(diags) > 0 {
			answer += " (" + strings.Join(diags, "; ") + ")"
		}
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &kindError{msg: answer + ": log in (credentials in ~/.docker/config.json or DOCKER_CONFIG) or check the name",
				kind: errdefs.ErrUnauthenticated, cause: err}
		case http.StatusNotFound:
			return &kindError{msg: answer, kind: errdefs.ErrNotFound, cause: err}
		case http.StatusTooManyRequests:
			return &kindError{msg: answer + ": rate limited; log in or configure a registry mirror", kind: errdefs.ErrUnavailable, cause: err}
		}
		if terr.StatusCode >= 500 {
			return &kindError{msg: answer, kind: errdefs.ErrUnavailable, cause: err}
		}
		return &kindError{msg: answer, kind: errdefs.ErrUnknown, cause: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var nerr net.Error
	var uerr *url.Error
	if errors.As(err, &nerr) || errors.As(err, &uerr) {
		return &kindError{msg: fmt.Sprintf("registry %s: %v", reg, err), kind: errdefs.ErrUnavailable, cause: err}
	}
	return fmt.Errorf("registry %s: %w", reg, err)
}

// kindError is an error with a clean message that still satisfies
// errors.Is for its errdefs kind and its cause.
type kindError struct {
	msg   string
	kind  error
	cause error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// kinded returns an error whose message is msg (no ": not found" tail)
// and whose kind is kind, for messages shown to users as they are.
func kinded(kind error, format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kind: kind}
}

// Media types berth reads.
const (
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDockerSchema1  = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mediaOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mediaDockerConfig   = "application/vnd.docker.container.image.v1+json"
)

var manifestAccept = strings.Join([]string{mediaOCIIndex, mediaDockerList, mediaOCIManifest, mediaDockerManifest}, ", ")

func isIndex(mt string) bool    { return mt == mediaOCIIndex || mt == mediaDockerList }
func isManifest(mt string) bool { return mt == mediaOCIManifest || mt == mediaDockerManifest }

// url returns the registry URL of a repository resource.
func (ep *endpoint) url(resource, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", ep.registry.Scheme(), ep.registry.RegistryStr(), ep.repo.RepositoryStr(), resource, ref)
}

// do sends a request to the endpoint and checks the status against ok.
func (ep *endpoint) do(ctx context.Context, method, u string, header http.Header, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ep.rt.RoundTrip(req)
	if err != nil {
		return nil, registryError(ep.registry.String(), err)
	}
	if err := transport.CheckError(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, registryError(ep.registry.String(), err)
	}
	return resp, nil
}

// head resolves ref (a tag or digest) to its manifest descriptor without
// downloading it; digest "" when the registry does not say.
func (ep *endpoint) head(ctx context.Context, ref string) (digest, mediaType string, err error) {
	resp, err := ep.do(ctx, http.MethodHead, ep.url("manifests", ref), http.Header{"Accept": {manifestAccept}}, http.StatusOK)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest"), mediaTypeOf(resp), nil
}

// manifest downloads a manifest or index by tag or digest and verifies it
// against want (when given, else against the registry's
// Docker-Content-Digest when it sends one).
func (ep *endpoint) manifest(ctx context.Context, ref, want string) (raw []byte, digest, mediaType string, err error) {
	resp, err := ep.do(ctx, http.MethodGet, ep.url("manifests", ref), http.Header{"Accept": {manifestAccept}}, http.StatusOK)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20+1))
	if err != nil {
		return nil, "", "", registryError(ep.registry.String(), err)
	}
	if len(raw) > 4<<20 {
		return nil, "", "", fmt.Errorf("registry %s: manifest %s is larger than 4 MiB: %w", ep.registry, ref, errdefs.ErrInvalidArgument)
	}
	digest = digestBytes(raw)
	if want == "" {
		want = resp.Header.Get("Docker-Content-Digest")
	}
	if want != "" && want != digest {
		return nil, "", "", fmt.Errorf("registry %s: manifest %s has digest %s, expected %s: the registry sent corrupt data: %w",
			ep.registry, ref, digest, want, errdefs.ErrDataLoss)
	}
	mediaType = mediaTypeOf(resp)
	if mt := sniffMediaType(raw); mt != "" {
		mediaType = mt
	}
	return raw, digest, mediaType, nil
}

func mediaTypeOf(resp *http.Response) string {
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt)
}

// sniffMediaType reads a manifest's own mediaType field (and tells an OCI
// index from a manifest when the field is absent).
func sniffMediaType(raw []byte) string {
	var m struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
		Config        json.RawMessage   `json:"config"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return ""
	}
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.SchemaVersion == 1:
		return mediaDockerSchema1
	case m.Manifests != nil:
		return mediaOCIIndex
	case m.Config != nil:
		return mediaOCIManifest
	}
	return ""
}

// hostPlatform is the platform of the machine berth runs on.
func hostPlatform() string {
	p := "linux/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		p += "/v7"
	}
	return p
}

// parsePlatform parses "os/arch[/variant]".
func parsePlatform(p string) (v1.Platform, error) {
	plat, err := v1.ParsePlatform(p)
	if err != nil || plat.OS == "" || plat.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64: %w", p, errdefs.ErrInvalidArgument)
	}
	return *plat, nil
}

// platformMatches reports whether an image of platform have satisfies the
// wanted one (arm64's variant v8 is the default).
func platformMatches(want, have v1.Platform) bool {
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	norm := func(p v1.Platform) string {
		if p.Architecture == "arm64" && p.Variant == "v8" {
			return ""
		}
		return p.Variant
	}
	return want.Variant == "" || norm(want) == norm(have)
}

// platformString formats a platform as "os/arch[/variant]".
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
