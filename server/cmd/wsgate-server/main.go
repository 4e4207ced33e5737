// Command wsgate-server is the wsgate integration server with dotNetify's demo view models
// (HelloWorldVM, ControlTypesVM, SimpleListVM, LiveChartVM, ChatRoomVM). It is configured by
// WSGATE_* environment variables (see server/README.md) and takes AWS credentials from the
// standard chain. It is an example of a whole server: register view models, call
// server.Main.
package main

import (
	"fmt"
	"os"

	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/vm"
)

func main() {
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "wsgate-server: register view models:", err)
		os.Exit(1)
	}
	server.Main(reg)
}
