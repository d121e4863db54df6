package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
)

// The paths a figure can be measured on.
const (
	PathDirect = "direct"
	PathV2     = "v2"
	PathV1     = "v1"
)

// Paths in table order.
var Paths = []string{PathDirect, PathV2, PathV1}

var (
	allPaths    = []string{PathDirect, PathV2, PathV1}
	tunnelPaths = []string{PathV2, PathV1}
	v2Only      = []string{PathV2}
)

// Figure is one row of the results: a value per path, each the median of
// its rounds.
type Figure struct {
	Key    string            `json:"key"`
	Label  string            `json:"label"`
	Unit   string            `json:"unit"`
	Lower  bool              `json:"lower_is_better"`
	Values map[string]*Value `json:"values"`
	// Ratios are tunnel/direct by path: the median of the per-round ratios
	// (each round measures both paths back to back), or the ratio of the
	// medians when the rounds do not pair up.
	Ratios map[string]float64 `json:"ratio_to_direct,omitempty"`

	paths  []string // where a value is expected
	zeroOK bool     // a difference or a count that may be 0 or negative
}

// Value is one figure on one path.
type Value struct {
	Median float64   `json:"median"`
	Rounds []float64 `json:"rounds"`
}

func (v *Value) add(x float64) {
	v.Rounds = append(v.Rounds, x)
	s := slices.Clone(v.Rounds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		v.Median = s[n/2]
	} else {
		v.Median = (s[n/2-1] + s[n/2]) / 2
	}
}

// Results is what a run measured, with what it ran on.
type Results struct {
	Meta    Meta      `json:"meta"`
	Figures []*Figure `json:"figures"`
	byKey   map[string]*Figure
}

func newResults() *Results { return &Results{byKey: make(map[string]*Figure)} }

// declare adds a figure expected on paths, in table order.
func (r *Results) declare(key, label, unit string, lower bool, paths []string) *Figure {
	f := &Figure{Key: key, Label: label, Unit: unit, Lower: lower, Values: make(map[string]*Value), paths: paths}
	r.Figures = append(r.Figures, f)
	r.byKey[key] = f
	return f
}

// add records one round's value of a declared figure.
func (r *Results) add(key, path string, x float64) {
	f := r.byKey[key]
	if f == nil {
		panic("bench: undeclared figure " + key)
	}
	v := f.Values[path]
	if v == nil {
		v = &Value{}
		f.Values[path] = v
	}
	v.add(x)
}

// computeRatios fills every figure's Ratios.
func (r *Results) computeRatios() {
	for _, f := range r.Figures {
		f.Ratios = nil
		d := f.Values[PathDirect]
		if d == nil || f.Key == keyErrors || f.Key == keyHOLSlowBytes || f.Key == keyHOLRatio {
			continue
		}
		for _, p := range tunnelPaths {
			if t := f.Values[p]; t != nil {
				if x, ok := ratioOf(d, t); ok {
					if f.Ratios == nil {
						f.Ratios = make(map[string]float64)
					}
					f.Ratios[p] = x
				}
			}
		}
	}
}

func ratioOf(d, t *Value) (float64, bool) {
	if len(d.Rounds) != len(t.Rounds) {
		return t.Median / d.Median, d.Median != 0
	}
	var v Value
	for i := range d.Rounds {
		if d.Rounds[i] == 0 {
			return 0, false
		}
		v.add(t.Rounds[i] / d.Rounds[i])
	}
	return v.Median, len(v.Rounds) > 0
}

// Get returns the median of a figure on a path.
func (r *Results) Get(key, path string) (float64, bool) {
	f := r.byKey[key]
	if f == nil || f.Values[path] == nil {
		return 0, false
	}
	return f.Values[path].Median, true
}

// Check returns an error naming every expected figure that is missing,
// not a number, or zero where zero means nothing was measured.
func (r *Results) Check() error {
	var errs []error
	for _, f := range r.Figures {
		for _, p := range f.paths {
			v := f.Values[p]
			switch {
			case v == nil:
				errs = append(errs, fmt.Errorf("%s (%s): missing", f.Label, p))
			case math.IsNaN(v.Median) || math.IsInf(v.Median, 0):
				errs = append(errs, fmt.Errorf("%s (%s): %v", f.Label, p, v.Median))
			case v.Median <= 0 && !f.zeroOK:
				errs = append(errs, fmt.Errorf("%s (%s): %v", f.Label, p, v.Median))
			}
		}
	}
	return errors.Join(errs...)
}

// WriteJSON writes the results to path.
func (r *Results) WriteJSON(path string) error {
	r.computeRatios()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON loads results written by WriteJSON, to print or draw them
// again. Check is meaningless on them: what a run expected is not stored.
func ReadJSON(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := newResults()
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, f := range r.Figures {
		if f.Values == nil {
			f.Values = make(map[string]*Value)
		}
		r.byKey[f.Key] = f
	}
	return r, nil
}
