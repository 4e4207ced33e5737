package vm_test

import (
	"context"
	"testing"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// BenchmarkUpdate is one HelloWorld-style update through the runtime: queue, apply, reply.
func BenchmarkUpdate(b *testing.B) {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "AccountVM", newAccount, vm.Commands("Deposit"))
	rt := vm.New(vm.Config{Registry: reg, Sender: vm.SenderFunc(func(string, []byte) {})})
	c := vm.Caller{ConnectionID: "c"}
	m, _ := protocol.DecodeMessage([]byte(req("AccountVM", "{}")))
	rt.Handle(context.Background(), c, m)
	names := []*protocol.Message{}
	for _, v := range []string{`{"Name":"Jane"}`, `{"Name":"John"}`} {
		m, _ := protocol.DecodeMessage([]byte(upd("AccountVM", v)))
		names = append(names, m)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rt.Handle(context.Background(), c, names[i%2])
		_ = rt.Drain(ctx)
	}
}
