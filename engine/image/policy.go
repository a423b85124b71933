package image

import (
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	str2duration "github.com/xhit/go-str2duration/v2"
)

// Compose pull_policy values.
const (
	PolicyAlways  = "always"
	PolicyMissing = "missing"
	PolicyNever   = "never"
	PolicyBuild   = "build"
	PolicyDaily   = "daily"
	PolicyWeekly  = "weekly"
	// PolicyIfNotPresent is compose's alias of "missing".
	PolicyIfNotPresent = "if_not_present"
	// PolicyRefresh is compose's alias of "always".
	PolicyRefresh = "refresh"
)

// ShouldPull decides, for compose's pull_policy, whether an image must be
// pulled now. img is the local image (nil when absent); its LastPull is
// when a pull last checked it. policy "" means "missing". For "never" with
// no image it returns errdefs.ErrNotFound (the caller cannot go on); for
// "build" it returns false (building is not berth's: the caller decides).
// "every_<duration>" takes Go durations plus d and w ("every_12h",
// "every_2d").
func ShouldPull(policy string, img *Image, now time.Time) (bool, error) {
	var last time.Time
	if img != nil {
		last = img.LastPull
	}
	switch policy {
	case "", PolicyMissing, PolicyIfNotPresent:
		return img == nil, nil
	case PolicyAlways, PolicyRefresh:
		return true, nil
	case PolicyNever:
		if img == nil {
			return false, kinded(errdefs.ErrNotFound, "pull_policy is never and the image is not present: pull it (berth pull) or change pull_policy")
		}
		return false, nil
	case PolicyBuild:
		return false, nil
	case PolicyDaily:
		return img == nil || now.Sub(last) >= 24*time.Hour, nil
	case PolicyWeekly:
		return img == nil || now.Sub(last) >= 7*24*time.Hour, nil
	}
	if d, ok := strings.CutPrefix(policy, "every_"); ok {
		every, err := str2duration.ParseDuration(d)
		if err != nil || every <= 0 {
			return false, fmt.Errorf("pull_policy %q: %q is not a duration (e.g. every_12h, every_2d): %w", policy, d, errdefs.ErrInvalidArgument)
		}
		return img == nil || now.Sub(last) >= every, nil
	}
	return false, fmt.Errorf("pull_policy %q: want always, missing, never, build, daily, weekly or every_<duration>: %w",
		policy, errdefs.ErrInvalidArgument)
}
