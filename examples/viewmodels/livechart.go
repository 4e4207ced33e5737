package viewmodels

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/server/vm"
)

// LiveChart is dotNetify's LiveChartVM: a waveform, bars and a pie pushed on a timer.
type LiveChart struct {
	vm.Base
	Waveform [][]string
	Bar      []int
	Pie      []float64
	x        int
	interval time.Duration
}

// NewLiveChart returns 30 waveform rows, 8 bars and 3 pie slices; pushes start on creation.
func NewLiveChart(interval time.Duration) *LiveChart {
	c := &LiveChart{interval: interval}
	for c.x < 30 {
		c.Waveform = append(c.Waveform, c.nextRow())
	}
	c.Bar = randomInts(8)
	c.Pie = randomFloats(3)
	return c
}

func (c *LiveChart) nextRow() []string {
	c.x++
	y := math.Sin(float64(c.x) / math.Pi)
	return []string{strconv.Itoa(c.x), strconv.FormatFloat(y, 'f', -1, 64)}
}

// OnCreated starts the timer; it stops when the view model is disposed.
func (c *LiveChart) OnCreated(context.Context) error {
	done := c.Context().Done()
	go func() {
		t := time.NewTicker(c.interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.PushUpdates(c.tick)
			}
		}
	}()
	return nil
}

// tick adds one waveform row (sent, not kept: the server only needs the counter) and new
// bars and pie slices.
func (c *LiveChart) tick() {
	c.AddList("Waveform", c.nextRow())
	c.Bar = randomInts(12)
	c.Pie = randomFloats(3)
	c.Changed("Bar", "Pie")
}

func randomInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 500 + rand.IntN(500)
	}
	return out
}

func randomFloats(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Floor(rand.Float64()*100) / 100 // two decimals, in [0, 1)
	}
	return out
}
