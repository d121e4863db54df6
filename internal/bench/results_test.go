package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	var v Value
	for _, x := range []float64{5, 1, 3} {
		v.add(x)
	}
	if v.Median != 3 {
		t.Fatalf("median %v, want 3", v.Median)
	}
	v.add(10)
	if v.Median != 4 {
		t.Fatalf("median of four %v, want 4", v.Median)
	}
}

func TestCheckNamesBadFigures(t *testing.T) {
	r := newResults()
	r.declare("a", "fine", "x", false, allPaths)
	r.declare("b", "zero", "x", false, v2Only)
	r.declare("c", "nan", "x", false, v2Only)
	r.declare("d", "missing", "x", false, v2Only)
	r.declare("e", "may be zero", "x", false, v2Only).zeroOK = true
	for _, p := range allPaths {
		r.add("a", p, 1)
	}
	r.add("b", PathV2, 0)
	r.add("c", PathV2, math.NaN())
	r.add("e", PathV2, 0)
	err := r.Check()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"zero (v2)", "nan (v2)", "missing (v2)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	for _, notWant := range []string{"fine", "may be zero"} {
		if strings.Contains(err.Error(), notWant) {
			t.Errorf("error %q names %q", err, notWant)
		}
	}
}

func TestTableAndJSON(t *testing.T) {
	r := newResults()
	r.Meta.Rounds = 1
	r.declare("rps", "small GET req/s", "req/s", false, allPaths)
	r.declare("rss", "RSS", "MiB", true, tunnelPaths)
	r.add("rps", PathDirect, 40000)
	r.add("rps", PathV2, 20000)
	r.add("rps", PathV1, 5000)
	r.add("rss", PathV2, 9.5)
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"40,000", "20,000", "0.50×", "0.12×", "9.50", "–"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back Results
	if err := json.Unmarshal(b, &back); err != nil || len(back.Figures) != 2 || back.Figures[0].Values["v2"].Median != 20000 {
		t.Fatalf("JSON round trip: %v %s", err, b)
	}
	again, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := again.Get("rps", PathV1); !ok || v != 5000 {
		t.Fatalf("ReadJSON: rps v1 = %v %v", v, ok)
	}
	if _, err := ReadJSON(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Fatal("ReadJSON of a missing file: no error")
	}
}

func TestFormatNum(t *testing.T) {
	cases := map[float64]string{1234567: "1,234,567", -2500: "-2,500", 512: "512", 42.25: "42.2", 1.5: "1.50", 0.0751: "0.075", 0: "0.00"}
	for in, want := range cases {
		if got := formatNum(in); got != want {
			t.Errorf("formatNum(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteChart(t *testing.T) {
	r := newResults()
	cfg := SmokeConfig()
	r.Meta = newMeta(cfg)
	declareFigures(r, cfg)
	for i, p := range allPaths {
		for _, c := range cfg.Concurrency {
			r.add(keyRPS(c), p, float64(1000*c/(i+1)))
			r.add(keyP99(c), p, float64(c)/10*float64(i+1))
		}
		r.add(keyDownload, p, 2000/float64(i+1))
		r.add(keyUpload, p, 900/float64(i+1))
	}
	dir := t.TempDir()
	for _, name := range []string{"c.png", "c.svg"} {
		path := filepath.Join(dir, name)
		if err := r.WriteChart(path); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v %v", name, st, err)
		}
	}
	if err := r.WriteChart(filepath.Join(dir, "c.gif")); err == nil {
		t.Fatal("gif accepted")
	}
}

func TestRatiosPairRounds(t *testing.T) {
	r := newResults()
	r.declare("rps", "rps", "req/s", false, allPaths)
	// The machine got twice as fast in round 2: per-round ratios stay 0.5.
	for _, x := range []float64{100, 200, 150} {
		r.add("rps", PathDirect, x)
		r.add("rps", PathV2, x/2)
	}
	r.add("rps", PathV1, 10) // one round only: ratio of medians
	r.computeRatios()
	f := r.byKey["rps"]
	if got := f.Ratios[PathV2]; got != 0.5 {
		t.Errorf("v2 ratio %v, want 0.5", got)
	}
	if got := f.Ratios[PathV1]; got != 10.0/150 {
		t.Errorf("v1 ratio %v, want %v", got, 10.0/150)
	}
}
