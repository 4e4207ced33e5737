package viewmodels

import (
	"context"

	"github.com/wsgate/wsgate/server/vm"
)

// HelloWorld is dotNetify's HelloWorldVM: two writable names and their combination.
type HelloWorld struct {
	vm.Base
	FirstName string `vm:"write"`
	LastName  string `vm:"write"`
	FullName  string
}

// NewHelloWorld returns the initial state "Hello World".
func NewHelloWorld(*vm.Request) (*HelloWorld, error) {
	return &HelloWorld{FirstName: "Hello", LastName: "World", FullName: "Hello World"}, nil
}

// OnPropertySet recomputes FullName whenever a name changes.
func (h *HelloWorld) OnPropertySet(context.Context, string) error {
	h.FullName = h.FirstName + " " + h.LastName
	h.Changed("FullName")
	return nil
}
