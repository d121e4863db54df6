package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// WriteTable prints the figures as a table: a column per path and the
// tunnel/direct ratios, then the notes.
func (r *Results) WriteTable(w io.Writer) error {
	r.computeRatios()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("figure")
	for _, f := range r.Figures {
		width = max(width, utf8.RuneCountInString(f.Label))
	}
	// Labels are padded to one width so that right alignment leaves them
	// left-aligned.
	fmt.Fprintf(tw, "%-*s\tdirect\tv2\tv1\tv2/direct\tv1/direct\t\n", width, "figure")
	for _, f := range r.Figures {
		cells := []string{f.Label + strings.Repeat(" ", width-utf8.RuneCountInString(f.Label))}
		for _, p := range Paths {
			cells = append(cells, r.cell(f, p))
		}
		cells = append(cells, r.ratio(f, PathV2), r.ratio(f, PathV1))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(*) direct: CPU of the API process; v2, v1: CPU of server + agent (the tunnel's own cost).")
	fmt.Fprintln(w, "Medians of", r.Meta.Rounds, "interleaved rounds; ratios are medians of the per-round ratios.")
	fmt.Fprintln(w, "Load generator:", r.Meta.LoadGenerator+".")
	fmt.Fprintf(w, "Machine: %d CPUs (%s), load average before %q, after %q.\n", r.Meta.NumCPU, r.Meta.CPU, r.Meta.LoadAvgBefore, r.Meta.LoadAvgAfter)
	if len(r.Meta.TunnelEnv) > 0 {
		fmt.Fprintln(w, "Servers and agents ran with:", strings.Join(r.Meta.TunnelEnv, " ")+".")
	}
	for _, n := range r.Meta.Notes {
		fmt.Fprintln(w, "Note:", n)
	}
	return nil
}

func (r *Results) cell(f *Figure, p string) string {
	v := f.Values[p]
	if v == nil {
		return "–"
	}
	if f.Unit == "agents" || f.Unit == "requests" {
		return groupThousands(int64(math.Round(v.Median)))
	}
	return formatNum(v.Median)
}

// ratio is tunnel/direct, for figures measured on both (see Figure.Ratios).
func (r *Results) ratio(f *Figure, p string) string {
	x, ok := f.Ratios[p]
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

// formatNum prints about three significant digits, with thousands
// separators for large values.
func formatNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a >= 1000:
		return groupThousands(int64(math.Round(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1 || a == 0:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
