package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"

	"github.com/berthdev/berth/volumes"
)

// volumeRow is a volume as `volume ls --format` templates see it, with
// docker's field names.
type volumeRow struct{ v *volumes.Volume }

func (r volumeRow) Name() string          { return r.v.Name }
func (r volumeRow) Driver() string        { return r.v.Driver }
func (r volumeRow) Scope() string         { return r.v.Scope }
func (r volumeRow) Mountpoint() string    { return r.v.Mountpoint }
func (r volumeRow) Label(k string) string { return r.v.Labels[k] }
func (r volumeRow) Links() string         { return "N/A" }
func (r volumeRow) Size() string          { return "N/A" }
func (r volumeRow) Group() string         { return "N/A" }
func (r volumeRow) Availability() string  { return "N/A" }
func (r volumeRow) Status() string        { return "N/A" }

// Labels is "k=v,k2=v2", sorted by key.
func (r volumeRow) Labels() string { return joinLabels(r.v.Labels) }

// volumeHeader gives a table template's column titles, as docker's.
type volumeHeader struct{}

func (volumeHeader) Name() string         { return "VOLUME NAME" }
func (volumeHeader) Driver() string       { return "DRIVER" }
func (volumeHeader) Scope() string        { return "SCOPE" }
func (volumeHeader) Mountpoint() string   { return "MOUNTPOINT" }
func (volumeHeader) Labels() string       { return "LABELS" }
func (volumeHeader) Label(string) string  { return "LABEL" }
func (volumeHeader) Links() string        { return "LINKS" }
func (volumeHeader) Size() string         { return "SIZE" }
func (volumeHeader) Group() string        { return "GROUP" }
func (volumeHeader) Availability() string { return "AVAILABILITY" }
func (volumeHeader) Status() string       { return "STATUS" }

// templateFuncs are the functions docker's --format templates have.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
}

// writeVolumes prints vols as docker's volume formatter does: format
// "table" (or empty), "json" (one object a line), a Go template, or
// "table <template>" (a template with a header line, aligned); quiet prints
// names only (with the table or empty format).
func writeVolumes(w io.Writer, format string, quiet bool, vols []*volumes.Volume) error {
	switch {
	case format == "" || format == "table":
		if quiet {
			format = "{{.Name}}"
		} else {
			format = "table {{.Driver}}\t{{.Name}}"
		}
	case format == "json":
		return writeJSONLines(w, vols, func(v *volumes.Volume) map[string]string {
			r := volumeRow{v}
			return map[string]string{
				"Availability": r.Availability(), "Driver": r.Driver(), "Group": r.Group(),
				"Labels": r.Labels(), "Links": r.Links(), "Mountpoint": r.Mountpoint(),
				"Name": r.Name(), "Scope": r.Scope(), "Size": r.Size(), "Status": r.Status(),
			}
		})
	case quiet:
		format = "{{.Name}}"
	}
	items := make([]any, len(vols))
	for i, v := range vols {
		items[i] = volumeRow{v}
	}
	return writeTemplate(w, format, items, volumeHeader{})
}

// sortVolumes sorts by name in natural order (a2 before a10), as docker's
// CLI does.
func sortVolumes(vols []*volumes.Volume) {
	slices.SortFunc(vols, func(a, b *volumes.Volume) int { return naturalCompare(a.Name, b.Name) })
}

// naturalCompare compares strings with runs of digits compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// humanSize is docker's units.HumanSize: decimal units, 4 significant
// digits ("0B", "1.5kB", "12.3MB").
func humanSize(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", n, units[i])
}
