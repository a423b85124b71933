package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// CommitOptions describe an image made of another one and a layer of
// changes (docker commit; a builder's step).
type CommitOptions struct {
	// Ref is the tag to give it; "" leaves it untagged.
	Ref string
	// Process is the container's process settings, which go into the new
	// image's config as docker commit takes them: Entrypoint and Cmd when
	// not nil, Env over the base's, WorkingDir and User when set.
	Process Config
	// Changes are Dockerfile instructions applied last, as Import's.
	Changes []string
	// Message is the history entry's and the config's comment; Author
	// the config's author.
	Message, Author string
	// CreatedBy is the history entry's created_by ("berth commit").
	CreatedBy string
}

// Commit makes an image from base (an image ID or reference) and layer, an
// uncompressed OCI layer tar of changes on top of it: base's layers and
// config, plus the layer, its history entry and opts' settings.
func (s *Store) Commit(ctx context.Context, base string, layer io.Reader, opts CommitOptions) (*Image, error) {
	tags, err := newImageTags("commit", opts.Ref)
	if err != nil {
		return nil, err
	}
	img, err := s.Get(ctx, base)
	if err != nil {
		return nil, err
	}
	raw, err := s.RawConfig(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	var config map[string]any
	if err := json.Unmarshal(raw, &config); err != nil {
		return nil, fmt.Errorf("commit: the config of %s: %w", base, err)
	}
	cfg := processConfig(config, opts.Process)
	if err := applyChanges("commit", cfg, opts.Changes); err != nil {
		return nil, err
	}
	release, err := s.holdContent(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	diffID, size, err := s.ingestLayer(ctx, layer)
	if err != nil {
		return nil, fmt.Errorf("commit: read the layer: %w", err)
	}
	now := time.Now().UTC()
	createdBy := opts.CreatedBy
	if createdBy == "" {
		createdBy = "berth commit"
	}
	config["config"] = cfg
	config["created"] = now
	config["rootfs"] = map[string]any{"type": "layers", "diff_ids": append(append([]string{}, img.DiffIDs...), diffID)}
	history, _ := config["history"].([]any)
	config["history"] = append(history, map[string]any{"created": now, "created_by": createdBy, "comment": opts.Message, "author": opts.Author})
	delete(config, "comment")
	if opts.Message != "" {
		config["comment"] = opts.Message
	}
	delete(config, "author")
	if opts.Author != "" {
		config["author"] = opts.Author
	}
	configRaw, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	layers := append(append([]Layer{}, img.Layers...), Layer{Digest: diffID, Size: size, MediaType: "application/vnd.oci.image.layer.v1.tar"})
	if _, err := s.addImage(ctx, configRaw, nil, "", layers, tags, nil); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return s.Get(ctx, digestBytes(configRaw))
}

// processConfig is the base config's "config" object with p's settings
// over it, in the Go types applyChange works on.
func processConfig(config map[string]any, p Config) map[string]any {
	cfg, _ := config["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
	}
	strs := func(v any) []string {
		list, _ := v.([]any)
		out := make([]string, 0, len(list))
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	set := func(v any) map[string]struct{} {
		m, _ := v.(map[string]any)
		out := make(map[string]struct{}, len(m))
		for k := range m {
			out[k] = struct{}{}
		}
		return out
	}
	for _, k := range []string{"Env", "Cmd", "Entrypoint"} {
		if v, ok := cfg[k]; ok && v != nil {
			cfg[k] = strs(v)
		}
	}
	for _, k := range []string{"ExposedPorts", "Volumes"} {
		if v, ok := cfg[k]; ok && v != nil {
			cfg[k] = set(v)
		}
	}
	if m, ok := cfg["Labels"].(map[string]any); ok {
		labels := make(map[string]string, len(m))
		for k, v := range m {
			labels[k], _ = v.(string)
		}
		cfg["Labels"] = labels
	}
	if p.Entrypoint != nil {
		cfg["Entrypoint"] = p.Entrypoint
	}
	if p.Cmd != nil {
		cfg["Cmd"] = p.Cmd
	}
	if len(p.Env) > 0 {
		env, _ := cfg["Env"].([]string)
		for _, kv := range p.Env {
			k, _, _ := strings.Cut(kv, "=")
			env = append(removeEnv(env, k), kv)
		}
		cfg["Env"] = env
	}
	if p.WorkingDir != "" {
		cfg["WorkingDir"] = p.WorkingDir
	}
	if p.User != "" {
		cfg["User"] = p.User
	}
	return cfg
}
