package store

import (
	"context"
	"fmt"
	"testing"
)

func TestMemoryRegistrationsAndGroups(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	var s Store = m
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddVM(ctx, "a", "HelloWorldVM", "{}"))
	must(s.AddVM(ctx, "a", "ChatRoomVM", "{}"))
	must(s.AddVM(ctx, "a", "HelloWorldVM", `{"$vmArg":{"X":1}}`)) // replaces, keeps order
	regs, _ := s.VMs(ctx, "a")
	if got := fmt.Sprint(regs); got != `[{HelloWorldVM {"$vmArg":{"X":1}}} {ChatRoomVM {}}]` {
		t.Errorf("VMs = %s", got)
	}
	must(s.Join(ctx, "room", "a"))
	must(s.Join(ctx, "room", "b"))
	must(s.Join(ctx, "room", "a"))
	if got, _ := s.Members(ctx, "room"); fmt.Sprint(got) != "[a b]" {
		t.Errorf("members = %v", got)
	}
	must(s.RemoveVM(ctx, "a", "HelloWorldVM"))
	must(s.RemoveVM(ctx, "a", "Unknown"))
	must(s.Leave(ctx, "room", "b"))
	if m.Connections() != 1 {
		t.Errorf("connections = %d, want 1 (b left its only group)", m.Connections())
	}
	must(s.RemoveConnection(ctx, "a"))
	must(s.RemoveConnection(ctx, "nobody"))
	if got, _ := s.Members(ctx, "room"); len(got) != 0 {
		t.Errorf("members after removal = %v", got)
	}
	if regs, _ := s.VMs(ctx, "a"); regs != nil {
		t.Errorf("VMs after removal = %v", regs)
	}
	if m.Connections() != 0 {
		t.Errorf("connections = %d, want 0", m.Connections())
	}
}
