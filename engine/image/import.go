package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// ImportOptions describe an image made from a root filesystem tarball.
type ImportOptions struct {
	// Ref is the tag to give it; "" leaves it untagged.
	Ref string
	// Changes are Dockerfile instructions applied to the config, as
	// docker import's --change: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
	// STOPSIGNAL, USER, VOLUME, WORKDIR.
	Changes []string
	// Message is the config's comment.
	Message string
	// Platform is "os/arch[/variant]"; "" means the store's default.
	Platform string
}

// Import makes a one-layer image from a root filesystem tarball (plain,
// gzip or zstd), like docker import.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	tags, err := newImageTags("import", opts.Ref)
	if err != nil {
		return nil, err
	}
	platStr := opts.Platform
	if platStr == "" {
		platStr = s.platform
	}
	plat, err := parsePlatform(platStr)
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	if err := applyChanges("import", cfg, opts.Changes); err != nil {
		return nil, err
	}
	release, err := s.holdContent(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	zr, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer zr.Close()
	diffID, size, err := s.ingestLayer(ctx, zr)
	if err != nil {
		return nil, fmt.Errorf("import: read the tarball: %w", err)
	}
	now := time.Now().UTC()
	config := map[string]any{
		"architecture": plat.Architecture,
		"os":           plat.OS,
		"created":      now,
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history":      []map[string]any{{"created": now, "created_by": "berth image import", "comment": opts.Message}},
	}
	if plat.Variant != "" {
		config["variant"] = plat.Variant
	}
	if opts.Message != "" {
		config["comment"] = opts.Message
	}
	configRaw, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	layers := []Layer{{Digest: diffID, Size: size, MediaType: "application/vnd.oci.image.layer.v1.tar"}}
	if _, err := s.addImage(ctx, configRaw, nil, "", layers, tags, nil); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return s.Get(ctx, digestBytes(configRaw))
}

// newImageTags is the tag list of a new image named ref ("" for none),
// for op's messages.
func newImageTags(op, ref string) ([]string, error) {
	if ref == "" {
		return nil, nil
	}
	n, err := NormalizeRef(ref)
	if err != nil {
		return nil, err
	}
	if strings.Contains(n, "@") {
		return nil, fmt.Errorf("%s: %q: the new image's name cannot have a digest: %w", op, ref, errdefs.ErrInvalidArgument)
	}
	return []string{n}, nil
}

// ingestLayer stores an uncompressed layer tar as a blob; its digest is
// its diff ID. The caller holds the content (holdContent).
func (s *Store) ingestLayer(ctx context.Context, r io.Reader) (diffID string, size int64, err error) {
	w, err := s.newIngest()
	if err != nil {
		return "", 0, err
	}
	if _, err := copyCtx(ctx, w, struct{ io.Reader }{r}); err != nil {
		w.Abort()
		return "", 0, err
	}
	return w.Commit()
}

// applyChanges applies --change instructions in order, for op's messages.
func applyChanges(op string, cfg map[string]any, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return fmt.Errorf("%s: --change %q: %w", op, c, err)
		}
	}
	return nil
}

// applyChange applies one Dockerfile instruction to a config's "config"
// object (Docker's capitalised keys).
func applyChange(cfg map[string]any, change string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return fmt.Errorf("%s needs an argument: %w", instr, errdefs.ErrInvalidArgument)
	}
	switch strings.ToUpper(instr) {
	case "CMD", "ENTRYPOINT":
		args, err := execOrShell(rest)
		if err != nil {
			return err
		}
		key := "Cmd"
		if strings.EqualFold(instr, "ENTRYPOINT") {
			key = "Entrypoint"
		}
		cfg[key] = args
	case "ENV":
		pairs, err := keyValues(rest)
		if err != nil {
			return err
		}
		env, _ := cfg["Env"].([]string)
		for _, kv := range pairs {
			k, _, _ := strings.Cut(kv, "=")
			env = removeEnv(env, k)
			env = append(env, kv)
		}
		cfg["Env"] = env
	case "LABEL":
		pairs, err := keyValues(rest)
		if err != nil {
			return err
		}
		labels, _ := cfg["Labels"].(map[string]string)
		if labels == nil {
			labels = map[string]string{}
		}
		for _, kv := range pairs {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
		cfg["Labels"] = labels
	case "EXPOSE":
		ports, _ := cfg["ExposedPorts"].(map[string]struct{})
		if ports == nil {
			ports = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			ports[p] = struct{}{}
		}
		cfg["ExposedPorts"] = ports
	case "VOLUME":
		vols, _ := cfg["Volumes"].(map[string]struct{})
		if vols == nil {
			vols = map[string]struct{}{}
		}
		var list []string
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &list); err != nil {
				return fmt.Errorf("VOLUME: %v: %w", err, errdefs.ErrInvalidArgument)
			}
		} else {
			list = strings.Fields(rest)
		}
		for _, v := range list {
			vols[v] = struct{}{}
		}
		cfg["Volumes"] = vols
	case "WORKDIR":
		cfg["WorkingDir"] = unquote(rest)
	case "USER":
		cfg["User"] = unquote(rest)
	case "STOPSIGNAL":
		cfg["StopSignal"] = unquote(rest)
	default:
		return fmt.Errorf("%q is not an instruction import takes (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR): %w",
			instr, errdefs.ErrInvalidArgument)
	}
	return nil
}

// execOrShell parses CMD/ENTRYPOINT: a JSON array (exec form) or a shell
// command run by /bin/sh -c.
func execOrShell(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err == nil {
			return args, nil
		}
	}
	return []string{"/bin/sh", "-c", s}, nil
}

// keyValues splits `k=v k2="v 2"` (or the legacy `k v w` form) into
// "k=v" pairs.
func keyValues(s string) ([]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no key=value: %w", errdefs.ErrInvalidArgument)
	}
	if !strings.Contains(words[0], "=") {
		// Legacy form: the first word is the key, the rest the value.
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + unquote(strings.TrimSpace(v))}, nil
	}
	for _, w := range words {
		if !strings.Contains(w, "=") {
			return nil, fmt.Errorf("%q is not key=value: %w", w, errdefs.ErrInvalidArgument)
		}
	}
	return words, nil
}

// splitWords splits on blanks, honouring double and single quotes and
// backslash escapes, and removes the quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for i := 0; i < len(s); i++ {
		c := rune(s[i])
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, inWord = c, true
		case c == '\\' && quote != '\'' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q: %w", s, errdefs.ErrInvalidArgument)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func unquote(s string) string {
	if w, err := splitWords(s); err == nil && len(w) == 1 {
		return w[0]
	}
	return s
}

func removeEnv(env []string, key string) []string {
	out := env[:0]
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != key {
			out = append(out, e)
		}
	}
	return out
}
