package vm_test

import (
	"context"
	"fmt"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// Greeter is a minimal view model: one writable property, one derived property, one command.
type Greeter struct {
	vm.Base
	Name     string `vm:"write"`
	Greeting string
	Count    int
}

func (g *Greeter) OnPropertySet(_ context.Context, name string) error {
	g.Greeting = "Hello, " + g.Name
	g.Changed("Greeting")
	return nil
}

// Reset is callable by the client because it is listed with vm.Commands.
func (g *Greeter) Reset() {
	g.Count++
	g.Name, g.Greeting = "", ""
	g.Changed("Name", "Greeting", "Count")
}

func Example() {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "GreeterVM", func(*vm.Request) (*Greeter, error) {
		return &Greeter{Name: "World", Greeting: "Hello, World"}, nil
	}, vm.Commands("Reset"))

	// In the server the Sender is the push client; here it prints the frames.
	rt := vm.New(vm.Config{Registry: reg, Sender: vm.SenderFunc(func(connID string, frame []byte) {
		fmt.Println(connID, string(frame))
	})})
	caller := vm.Caller{ConnectionID: "Wm1nYcO3IAMCJ2w="}
	for _, frame := range []string{
		`{"callType":"request_vm","vmId":"GreeterVM","vmArgs":"{}"}`,
		`{"callType":"update_vm","vmId":"GreeterVM","value":"{\"Name\":\"Gopher\"}"}`,
		`{"callType":"update_vm","vmId":"GreeterVM","value":"{\"Count\":99}"}`, // not writable: ignored
		`{"callType":"update_vm","vmId":"GreeterVM","value":"{\"Reset\":null}"}`,
	} {
		m, _ := protocol.DecodeMessage([]byte(frame))
		rt.Handle(context.Background(), caller, m)
		_ = rt.Drain(context.Background())
	}
	// Output:
	// Wm1nYcO3IAMCJ2w= {"callType":"response_vm","vmId":"GreeterVM","data":"{\"Name\":\"World\",\"Greeting\":\"Hello, World\",\"Count\":0}"}
	// Wm1nYcO3IAMCJ2w= {"callType":"response_vm","vmId":"GreeterVM","data":"{\"Greeting\":\"Hello, Gopher\"}"}
	// Wm1nYcO3IAMCJ2w= {"callType":"response_vm","vmId":"GreeterVM","data":"{\"Name\":\"\",\"Greeting\":\"\",\"Count\":1}"}
}
