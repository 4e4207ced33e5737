package serverbench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// DottedVMIDAttackHeap measures the heap after an attack against the heap before it, in the
// same runtime: `sessions` idle HelloWorld connections hold the baseline, then each of
// `attackers` connections sends one request_vm and one update_vm whose vmId is
// "LiveChartVM." repeated to 108 KB. Without the runtime's limits one such frame built 9,216
// LiveCharts, each with its own timer; with them the connection is closed and nothing is
// built. Goal: ≤ 1.1 (the heap barely moves). It measures the runtime alone, on purpose: the
// limits under test are the runtime's, and nothing is pushed.
func DottedVMIDAttackHeap(sessions, attackers int) (Result, error) {
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{LiveChartInterval: time.Hour}); err != nil {
		return Result{}, err
	}
	rt := vm.New(vm.Config{Registry: reg, Sender: vm.SenderFunc(func(string, []byte) {})})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	defer rt.Close(ctx)
	hello, err := protocol.DecodeMessage([]byte(`{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`))
	if err != nil {
		return Result{}, err
	}
	for i := range sessions {
		rt.Handle(context.Background(), vm.Caller{ConnectionID: fmt.Sprintf("Wm1nYcO3IA%06d=", i), SourceIP: "203.0.113.7"}, hello)
	}
	if err := rt.Drain(ctx); err != nil {
		return Result{}, err
	}
	before := heapInUse()

	vmID := strings.TrimSuffix(strings.Repeat("LiveChartVM.", (108<<10)/len("LiveChartVM.")), ".")
	request, err := protocol.DecodeMessage([]byte(`{"callType":"request_vm","vmId":"` + vmID + `","vmArgs":"{}"}`))
	if err != nil {
		return Result{}, err
	}
	update, err := protocol.DecodeMessage([]byte(`{"callType":"update_vm","vmId":"` + vmID + `","value":"{\"Bar\":1}"}`))
	if err != nil {
		return Result{}, err
	}
	for i := range attackers {
		c := vm.Caller{ConnectionID: fmt.Sprintf("QXR0YWNrZXI%06d=", i), SourceIP: "198.51.100.66"}
		rt.Handle(context.Background(), c, request)
		rt.Handle(context.Background(), c, update)
	}
	if err := rt.Drain(ctx); err != nil {
		return Result{}, err
	}
	after := heapInUse()
	runtime.KeepAlive(rt)
	return result("dotted_vmid_attack_heap", float64(after), float64(before), "B", "<=1.1"), nil
}
