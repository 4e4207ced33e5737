// Package viewmodels holds Go ports of dotNetify's demo view models (HelloWorld,
// ControlTypes, SimpleList, LiveChart, ChatRoom) with the same vmIds and property names, so
// the unmodified dotnetify client examples work against the wsgate server.
package viewmodels

import (
	"errors"
	"time"

	"github.com/wsgate/wsgate/server/vm"
)

// Options tune the demos; the zero value gives dotNetify's behaviour.
type Options struct {
	// LiveChartInterval is the LiveChart push period. Default: one second.
	LiveChartInterval time.Duration
	// ChatMemberID makes the Id of a new ChatRoom member, the id other members see (never
	// the connection id). Default: crypto/rand.Text, 26 random characters.
	ChatMemberID func() string
}

// Register adds the five demo view models to reg.
func Register(reg *vm.Registry, opts Options) error {
	interval := opts.LiveChartInterval
	if interval <= 0 {
		interval = time.Second
	}
	return errors.Join(
		vm.Register(reg, "HelloWorldVM", NewHelloWorld),
		vm.Register(reg, "ControlTypesVM", NewControlTypes),
		vm.Register(reg, "SimpleListVM", NewSimpleList,
			vm.Commands("Add", "Update", "Remove"),
			vm.Shared(func(r *vm.Request) string { return r.Caller.SourceIP })),
		vm.Register(reg, "LiveChartVM", func(r *vm.Request) (*LiveChart, error) { return NewLiveChart(interval), nil }),
		vm.Register(reg, "ChatRoomVM", func(r *vm.Request) (*ChatRoom, error) {
			room, err := NewChatRoom(r)
			if err == nil && opts.ChatMemberID != nil {
				room.newID = opts.ChatMemberID
			}
			return room, err
		},
			vm.Commands("AddUser", "SendMessage", "RemoveUser"),
			vm.Shared(nil)),
	)
}
