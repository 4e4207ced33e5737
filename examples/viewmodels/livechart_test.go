package viewmodels

import "testing"

// Pie slices stay in [0, 1) and bars in [500, 1000), as in the original demo.
func TestLiveChartRanges(t *testing.T) {
	for range 2000 {
		for _, p := range randomFloats(3) {
			if p < 0 || p >= 1 {
				t.Fatalf("pie slice %v out of [0, 1)", p)
			}
		}
		for _, b := range randomInts(12) {
			if b < 500 || b >= 1000 {
				t.Fatalf("bar %v out of [500, 1000)", b)
			}
		}
	}
}
