package display

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthdev/berth/scheduler"
)

// NewPullView returns the terminal view of image pulls (and pushes) on w,
// as docker compose pull shows them: "[+] title n/m", a line per image
// (or service), and under it, while it is pulled, a line per layer with
// a progress bar, bytes and speed. The events of an image have no
// Parent; those of its layers have the image's Resource as Parent. The
// view redraws itself until Close.
func NewPullView(w io.Writer, title string) Display {
	v := newPullView(w, title)
	v.start()
	return v
}

// pullView is the view of NewPullView.
type pullView struct {
	*liveView
	title string
	rows  []*pullRow
	byID  map[string]*pullRow
}

// pullRow is what the pull view knows of an image or a layer.
type pullRow struct {
	id, parent   string
	state        scheduler.State
	status, text string
	cur, total   int64
	start, end   time.Time
	// speed is a moving average of bytes per second.
	speed   float64
	lastCur int64
	lastAt  time.Time
}

// newPullView returns the pull view on w; start starts its redraws.
func newPullView(w io.Writer, title string) *pullView {
	v := &pullView{title: title, byID: map[string]*pullRow{}}
	v.liveView = newLiveView(w, v.render)
	v.crEachLine = true
	return v
}

// Emit records an event; once the view is closed, it prints it as a
// plain line.
func (v *pullView) Emit(e scheduler.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := e.Time
	if now.IsZero() {
		now = time.Now()
	}
	r, ok := v.byID[e.Parent+"\x00"+e.Resource]
	if !ok {
		r = &pullRow{id: e.Resource, parent: e.Parent, start: now, lastAt: now}
		v.byID[e.Parent+"\x00"+e.Resource] = r
		v.rows = append(v.rows, r)
	}
	if e.State != scheduler.Working {
		r.end = now
	} else if r.state != scheduler.Working {
		r.start, r.end = now, time.Time{}
	}
	if r.status != e.Status {
		r.lastCur, r.lastAt, r.speed = e.Current, now, 0
	}
	if dt := now.Sub(r.lastAt).Seconds(); dt >= 0.2 && e.Current >= r.lastCur {
		inst := float64(e.Current-r.lastCur) / dt
		if r.speed == 0 {
			r.speed = inst
		} else {
			r.speed = 0.7*r.speed + 0.3*inst
		}
		r.lastCur, r.lastAt = e.Current, now
	}
	r.state, r.status, r.text = e.State, e.Status, e.Text
	r.cur, r.total = e.Current, e.Total
	if v.closed {
		fmt.Fprintln(v.w, strings.TrimSpace(e.Resource+" "+e.Status+" "+e.Text))
	}
}

// render adds the header and the lines that fit, the last ones: the
// images, and the layers of those still pulled (the final frame shows
// the images only).
func (v *pullView) render(f *frame) {
	var shown []*pullRow
	done, top := 0, 0
	for _, r := range v.rows {
		if r.parent == "" {
			top++
			if r.state != scheduler.Working {
				done++
			}
			shown = append(shown, r)
			continue
		}
		if p := v.byID["\x00"+r.parent]; !f.final && (p == nil || p.state == scheduler.Working) {
			shown = append(shown, r)
		}
	}
	if max := f.height - 2; len(shown) > max && max > 1 {
		shown = shown[len(shown)-max:]
	}
	f.header("", v.title, done, top)
	rows := make([]resourceRow, len(shown))
	for i, r := range shown {
		rows[i] = resourceRow{indent: " ", state: r.state, id: r.id, status: r.status, detail: r.detail(),
			start: r.start, end: r.end}
		if r.parent != "" {
			rows[i].indent = "   "
		}
	}
	align(rows, false)
	for _, r := range rows {
		f.row(r)
	}
}

// detail is a layer's progress bar, bytes and speed while it downloads
// or extracts, and the text otherwise.
func (r *pullRow) detail() string {
	if r.state != scheduler.Working || r.total <= 0 || r.parent == "" {
		return r.text
	}
	d := progressBar(r.cur, r.total, 20) + " " + byteCount(r.cur) + "/" + byteCount(r.total)
	if r.speed > 0 {
		d += "  " + byteCount(int64(r.speed)) + "/s"
	}
	return d
}

// progressBar is docker's "[=====>     ]".
func progressBar(cur, total int64, width int) string {
	if total <= 0 {
		return ""
	}
	n := int(float64(width) * float64(min(cur, total)) / float64(total))
	bar := strings.Repeat("=", n)
	if n < width {
		bar += ">" + strings.Repeat(" ", width-n-1)
	}
	return "[" + bar + "]"
}

// byteCount is docker's progress size: decimal units, 3 significant
// digits ("45.2MB").
func byteCount(n int64) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
