package vm_test

import (
	"context"
	"testing"
)

// ViewModels counts the view models the sessions hold as they are created, disposed and
// disconnected; a request for one already held, or a refused one, changes nothing.
func TestViewModelsCountsHeldViewModels(t *testing.T) {
	h := newHarness(t, accountRegistry(t), nil)
	expect := func(step string, want int) {
		t.Helper()
		h.frames("") // drain
		if got := h.rt.ViewModels(); got != want {
			t.Errorf("after %s: ViewModels = %d, want %d", step, got, want)
		}
	}
	expect("nothing", 0)
	h.do("a", req("AccountVM", "{}"))
	h.do("a", req("AccountVM$2", "{}"))
	h.do("b", req("AccountVM", "{}"))
	expect("three requests", 3)
	h.do("a", req("AccountVM", "{}"))
	h.do("a", req("NoSuchVM", "{}"))
	expect("a repeated and an unknown request", 3)
	h.do("a", `{"callType":"dispose_vm","vmId":"AccountVM$2"}`)
	expect("dispose_vm", 2)
	h.rt.Disconnect(context.Background(), "b")
	expect("$disconnect", 1)
	if err := h.rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect("Close", 0)
}
