package viewmodels

import (
	"testing"
	"time"
)

// Message ids fit in a JavaScript number (at most 2^53 - 1, so each reaches the browser
// exactly) and are unique in the room, whatever dates the clients send: the same date
// twice, dates going back, the zero date, the largest date JSON can carry.
func TestChatMessageIDsAreUniqueAndSafeInJavaScript(t *testing.T) {
	r, _ := NewChatRoom(nil)
	may := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	dates := []time.Time{
		may, may, may.Add(time.Minute), may, {}, may.Add(-time.Hour),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), may,
	}
	for range 1000 {
		dates = append(dates, may)
	}
	want := []int64{1714557600000, 1714557600001, 1714557660000, 1714557660001, 1714557660002, 1714557660003,
		253402300799999, 253402300800000}
	seen := map[int64]bool{}
	seenJS := map[float64]bool{}
	last := int64(0)
	for i, d := range dates {
		id := r.nextID(d)
		if i < len(want) && id != want[i] {
			t.Errorf("id %d for %s = %d, want %d", i, d.Format(time.RFC3339Nano), id, want[i])
		}
		if id > 1<<53-1 || id <= 0 {
			t.Fatalf("id %d = %d, outside 1 … 2^53-1", i, id)
		}
		if seen[id] || seenJS[float64(id)] || int64(float64(id)) != id {
			t.Fatalf("id %d = %d is not unique as a JavaScript number", i, id)
		}
		if id <= last {
			t.Fatalf("id %d = %d, not above the previous %d", i, id, last)
		}
		seen[id], seenJS[float64(id)], last = true, true, id
	}
}
