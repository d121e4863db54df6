package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	_ "gonum.org/v1/plot/vg/vgimg" // png
	_ "gonum.org/v1/plot/vg/vgsvg" // svg
)

// pathColors are the bar colours: direct grey, v2 blue, v1 orange.
var pathColors = map[string]color.Color{
	PathDirect: color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff},
	PathV2:     color.RGBA{R: 0x1f, G: 0x6f, B: 0xb4, A: 0xff},
	PathV1:     color.RGBA{R: 0xe0, G: 0x7b, B: 0x10, A: 0xff},
}

// panel is one bar chart of the figure: a group of bars per key.
type panel struct {
	title, unit string
	groups      []string // x labels
	keys        []string // a figure key per group
	ratios      bool     // label tunnel bars with their ratio to direct
}

// WriteChart draws the small-GET rates, the p99 latencies and the
// transfer rates as grouped bars (direct, v2, v1) into a PNG or SVG file,
// chosen by the file's extension.
func (r *Results) WriteChart(path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "png" && format != "svg" {
		return fmt.Errorf("chart %s: want a .png or .svg file", path)
	}
	r.computeRatios()
	var conc []int
	conc = append(conc, r.Meta.Concurrency...)
	panels := []panel{
		{title: "small GET, requests/s", unit: "req/s", ratios: true},
		{title: "small GET, p99 latency", unit: "ms"},
		{title: "transfer of " + sizeLabel(r.Meta.TransferBytes), unit: "MiB/s", ratios: true,
			groups: []string{"download", "upload"}, keys: []string{keyDownload, keyUpload}},
	}
	for _, c := range conc {
		g := fmt.Sprintf("c=%d", c)
		panels[0].groups, panels[0].keys = append(panels[0].groups, g), append(panels[0].keys, keyRPS(c))
		panels[1].groups, panels[1].keys = append(panels[1].groups, g), append(panels[1].keys, keyP99(c))
	}
	row := make([]*plot.Plot, len(panels))
	for i, p := range panels {
		var err error
		if row[i], err = r.barPlot(p); err != nil {
			return err
		}
	}
	w, h := 13*vg.Inch, 4.2*vg.Inch
	cw, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return err
	}
	dc := draw.New(cw)
	head := vg.Points(30)
	body := dc
	body.Max.Y -= head
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 8, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, body)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	r.drawHeader(dc, head)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := cw.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// barPlot draws one panel: a bar per path in each group.
func (r *Results) barPlot(pn panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.title
	p.Y.Label.Text = pn.unit
	p.Y.Min = 0
	p.Y.Tick.Marker = readableTicks{}
	width := vg.Points(17)
	for i, path := range Paths {
		vals := make(plotter.Values, len(pn.keys))
		for j, k := range pn.keys {
			vals[j], _ = r.Get(k, path)
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bars.Color = pathColors[path]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(i-1) * width
		p.Add(bars)
		if pn.ratios && path != PathDirect {
			lbl, err := r.ratioLabels(pn.keys, path, vals)
			if err != nil {
				return nil, err
			}
			lbl.Offset = vg.Point{X: bars.Offset - width/2, Y: vg.Points(2)}
			p.Add(lbl)
		}
	}
	p.NominalX(pn.groups...)
	p.Y.Max *= 1.12 // room for the labels
	return p, nil
}

// ratioLabels labels each bar of path with its value relative to direct.
func (r *Results) ratioLabels(keys []string, path string, vals plotter.Values) (*plotter.Labels, error) {
	xy := plotter.XYLabels{XYs: make(plotter.XYs, len(keys)), Labels: make([]string, len(keys))}
	for j, k := range keys {
		xy.XYs[j] = plotter.XY{X: float64(j), Y: vals[j]}
		if f := r.byKey[k]; f != nil {
			if x, ok := f.Ratios[path]; ok {
				xy.Labels[j] = fmt.Sprintf("%.2f×", x)
			}
		}
	}
	lbl, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, err
	}
	for i := range lbl.TextStyle {
		lbl.TextStyle[i].Font.Size = vg.Points(7)
	}
	return lbl, nil
}

// drawHeader writes the title and the colour legend across the top.
func (r *Results) drawHeader(dc draw.Canvas, head vg.Length) {
	title := fmt.Sprintf("wsp on loopback, %d CPUs, medians of %d rounds; bar labels: tunnel / direct", r.Meta.NumCPU, r.Meta.Rounds)
	st := plot.New().Title.TextStyle
	st.Font.Size = vg.Points(13)
	st.XAlign, st.YAlign = draw.XLeft, draw.YBottom
	y := dc.Max.Y - head/2 - st.Height(title)/2
	x := dc.Min.X + vg.Millimeter*4
	dc.FillText(st, vg.Point{X: x, Y: y}, title)
	x += st.Width(title) + vg.Millimeter*10
	box := st.Height("M") * 0.8
	for _, path := range Paths {
		dc.FillPolygon(pathColors[path], []vg.Point{{X: x, Y: y}, {X: x + box, Y: y}, {X: x + box, Y: y + box}, {X: x, Y: y + box}})
		x += box + vg.Millimeter*1.5
		dc.FillText(st, vg.Point{X: x, Y: y}, path)
		x += st.Width(path) + vg.Millimeter*6
	}
}

// readableTicks are the default ticks, labelled like the table's numbers.
type readableTicks struct{}

func (readableTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = formatTick(ticks[i].Value)
		}
	}
	return ticks
}

func formatTick(v float64) string {
	if v == float64(int64(v)) {
		return groupThousands(int64(v))
	}
	return formatNum(v)
}
