package main

import (
	"fmt"
	"io"
	"path"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"

	"github.com/berthdev/berth/engine/image"
)

// imageRow is one line of `image ls`, with docker's template fields.
type imageRow struct {
	img     *image.Image
	repo    string // familiar repository, "<none>" for dangling
	tag     string
	digest  string
	noTrunc bool
}

func (r imageRow) Repository() string { return r.repo }
func (r imageRow) Tag() string        { return r.tag }
func (r imageRow) Digest() string {
	if r.digest == "" {
		return "<none>"
	}
	return r.digest
}

// ID is the short ID (the full one with --no-trunc).
func (r imageRow) ID() string {
	if r.noTrunc {
		return r.img.ID
	}
	return r.img.ShortID()
}
func (r imageRow) CreatedSince() string { return humanSince(r.img.Created) }
func (r imageRow) CreatedAt() string {
	return r.img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}
func (r imageRow) Size() string        { return units.HumanSizeWithPrecision(float64(r.img.Size), 3) }
func (r imageRow) VirtualSize() string { return r.Size() }
func (r imageRow) SharedSize() string  { return "N/A" }
func (r imageRow) UniqueSize() string  { return "N/A" }
func (r imageRow) Containers() string  { return "N/A" }
func (r imageRow) Platform() string    { return r.img.Platform }

// humanSince is docker's "2 days ago" ("N/A" for an unknown time).
func humanSince(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}

// imageRows expands images into docker's rows: one per tag (one "<none>"
// row for an untagged image), newest first; with digests, the digest of
// the repository.
func imageRows(imgs []*image.Image, noTrunc bool) []imageRow {
	var rows []imageRow
	for _, img := range imgs {
		digestOf := func(repo string) string {
			for _, d := range img.RepoDigests {
				if r, dg, ok := strings.Cut(d, "@"); ok && image.FamiliarName(r) == repo {
					return dg
				}
			}
			return ""
		}
		if len(img.RepoTags) == 0 {
			repo, d := "<none>", ""
			if len(img.RepoDigests) > 0 {
				r, dg, _ := strings.Cut(img.RepoDigests[0], "@")
				repo, d = image.FamiliarName(r), dg
			}
			rows = append(rows, imageRow{img: img, repo: repo, tag: "<none>", digest: d, noTrunc: noTrunc})
			continue
		}
		for _, t := range img.RepoTags {
			repo, tag := image.SplitFamiliar(t)
			rows = append(rows, imageRow{img: img, repo: repo, tag: tag, digest: digestOf(repo), noTrunc: noTrunc})
		}
	}
	return rows
}

// imageFilter is `image ls --filter`: dangling, label, reference, before,
// since, until.
type imageFilter struct {
	dangling      *bool
	labels        map[string]string
	refs          []string
	before, since time.Time
	until         time.Time
}

// parseImageFilters parses --filter values.
func parseImageFilters(values []string, lookup func(ref string) (*image.Image, error)) (imageFilter, error) {
	f := imageFilter{labels: map[string]string{}}
	for _, v := range values {
		key, val, ok := strings.Cut(v, "=")
		if !ok {
			return f, invalidArgument("bad format of filter (expected name=value): %s", v)
		}
		switch key {
		case "dangling":
			b := val == "true" || val == "1"
			if !b && val != "false" && val != "0" {
				return f, invalidArgument("invalid filter 'dangling=%s'", val)
			}
			f.dangling = &b
		case "label":
			k, lv, _ := strings.Cut(val, "=")
			f.labels[k] = lv
		case "reference":
			f.refs = append(f.refs, val)
		case "before", "since":
			img, err := lookup(val)
			if err != nil {
				return f, err
			}
			if key == "before" {
				f.before = img.Created
			} else {
				f.since = img.Created
			}
		case "until":
			t, err := parseUntil(val)
			if err != nil {
				return f, err
			}
			f.until = t
		default:
			return f, invalidArgument("invalid filter '%s'", key)
		}
	}
	return f, nil
}

// parseUntil reads docker's until= value: a duration ago ("24h"), a Unix
// timestamp or an RFC 3339 time.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil {
		return time.Unix(secs, 0), nil
	}
	return time.Time{}, invalidArgument("invalid until filter %q: use a duration (24h), a timestamp or an RFC 3339 time", v)
}

// keep reports whether a row passes the filter.
func (f imageFilter) keep(r imageRow) bool {
	if f.dangling != nil && *f.dangling != (len(r.img.RepoTags) == 0) {
		return false
	}
	for k, v := range f.labels {
		lv, ok := r.img.Config.Labels[k]
		if !ok || (v != "" && lv != v) {
			return false
		}
	}
	if len(f.refs) > 0 {
		match := false
		for _, pat := range f.refs {
			for _, cand := range []string{r.repo, r.repo + ":" + r.tag} {
				if ok, _ := path.Match(pat, cand); ok {
					match = true
				}
			}
		}
		if !match {
			return false
		}
	}
	if !f.before.IsZero() && !r.img.Created.Before(f.before) {
		return false
	}
	if !f.since.IsZero() && !r.img.Created.After(f.since) {
		return false
	}
	if !f.until.IsZero() && r.img.Created.After(f.until) {
		return false
	}
	return true
}

// writeImageRows prints rows as docker image ls: the table (REPOSITORY TAG
// [DIGEST] IMAGE ID CREATED SIZE), "json", a Go template or "table
// <template>"; quiet prints IDs only.
func writeImageRows(w io.Writer, format string, quiet, digests bool, rows []imageRow) error {
	switch {
	case quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID()] {
				seen[r.ID()] = true
				fmt.Fprintln(w, r.ID())
			}
		}
		return nil
	case format == "json":
		return writeJSONLines(w, rows, func(r imageRow) map[string]string {
			return map[string]string{
				"Containers": r.Containers(), "CreatedAt": r.CreatedAt(), "CreatedSince": r.CreatedSince(),
				"Digest": r.Digest(), "ID": r.ID(), "Repository": r.repo, "SharedSize": r.SharedSize(),
				"Size": r.Size(), "Tag": r.tag, "UniqueSize": r.UniqueSize(), "VirtualSize": r.VirtualSize(),
			}
		})
	case format == "" || format == "table":
		format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		if digests {
			format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
	}
	items := make([]any, len(rows))
	for i, r := range rows {
		items[i] = r
	}
	return writeTemplate(w, format, items, imageHeader{})
}

// imageHeader gives the table titles, as docker's.
type imageHeader struct{}

func (imageHeader) Repository() string   { return "REPOSITORY" }
func (imageHeader) Tag() string          { return "TAG" }
func (imageHeader) Digest() string       { return "DIGEST" }
func (imageHeader) ID() string           { return "IMAGE ID" }
func (imageHeader) CreatedSince() string { return "CREATED" }
func (imageHeader) CreatedAt() string    { return "CREATED AT" }
func (imageHeader) Size() string         { return "SIZE" }
func (imageHeader) VirtualSize() string  { return "SIZE" }
func (imageHeader) SharedSize() string   { return "SHARED SIZE" }
func (imageHeader) UniqueSize() string   { return "UNIQUE SIZE" }
func (imageHeader) Containers() string   { return "CONTAINERS" }
func (imageHeader) Platform() string     { return "PLATFORM" }

// writeTemplate renders items with a Go template; "table <template>"
// prints header's fields as the first line and aligns the columns.
func writeTemplate(w io.Writer, format string, items []any, header any) error {
	table := strings.HasPrefix(format, "table ")
	format = strings.TrimPrefix(format, "table ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return invalidArgument("template parsing error: %v", err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		if err := tmpl.Execute(out, header); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	for _, it := range items {
		if err := tmpl.Execute(out, it); err != nil {
			return invalidArgument("template: %v", err)
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}
