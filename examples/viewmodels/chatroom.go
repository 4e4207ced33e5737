package viewmodels

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/wsgate/wsgate/server/vm"
)

// ChatUser is a member of the chat room; Id is the connection id.
type ChatUser struct {
	Id            string
	CorrelationId string
	Name          string
	IpAddress     string
	Browser       *string
}

// ChatMessage is one message as the client receives it.
type ChatMessage struct {
	Id       int64
	UserId   string
	UserName string
	Date     DateTimeOffset
	Text     string
}

// ChatInput is the argument of SendMessage.
type ChatInput struct {
	Text     string
	Date     time.Time
	UserName string
}

// DateTimeOffset marshals a time the way .NET writes a DateTimeOffset
// ("2024-05-01T10:00:00+00:00").
type DateTimeOffset time.Time

// MarshalJSON implements json.Marshaler.
func (d DateTimeOffset) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(d).Format("2006-01-02T15:04:05.9999999-07:00"))
}

// ChatRoom is dotNetify's ChatRoomVM: one room shared by every connection.
type ChatRoom struct {
	vm.Base
	Messages  []ChatMessage `vm:"itemkey=Id"`
	Users     []*ChatUser   `vm:"itemkey=Id"`
	userCount int
	lastID    int64
}

// NewChatRoom returns an empty room.
func NewChatRoom(*vm.Request) (*ChatRoom, error) {
	return &ChatRoom{Messages: []ChatMessage{}, Users: []*ChatUser{}}, nil
}

// AddUser adds the calling connection as "user<N>"; correlationID lets the client find
// itself in Users.
func (r *ChatRoom) AddUser(ctx context.Context, correlationID string) {
	c, _ := vm.CallerOf(ctx)
	if r.user(c.ConnectionID) != nil {
		return
	}
	r.userCount++
	u := &ChatUser{Id: c.ConnectionID, CorrelationId: correlationID, Name: fmt.Sprintf("user%d", r.userCount), IpAddress: c.SourceIP}
	if c.UserAgent != "" {
		u.Browser = &c.UserAgent
	}
	r.Users = append(r.Users, u)
	r.AddList("Users", u)
}

var privatePrefix = regexp.MustCompile(`^(\w+):`)

// SendMessage posts a message. A "name:" prefix makes it private: only the named user and
// the sender get it, as PrivateMessage.
func (r *ChatRoom) SendMessage(ctx context.Context, in ChatInput) {
	c, _ := vm.CallerOf(ctx)
	u := r.user(c.ConnectionID)
	if u == nil {
		return
	}
	if in.UserName != "" && in.UserName != u.Name {
		u.Name = in.UserName
		r.UpdateList("Users", u)
	}
	msg := ChatMessage{Id: r.nextID(in.Date), UserId: u.Id, UserName: u.Name, Date: DateTimeOffset(in.Date), Text: in.Text}
	if m := privatePrefix.FindStringSubmatch(in.Text); m != nil {
		if target := r.userNamed(m[1]); target != nil {
			r.Send([]string{target.Id, u.Id}, "PrivateMessage", msg)
			return
		}
	}
	r.Messages = append(r.Messages, msg)
	r.AddList("Messages", msg)
}

// RemoveUser takes the calling connection out of Users.
func (r *ChatRoom) RemoveUser(ctx context.Context) {
	c, _ := vm.CallerOf(ctx)
	r.remove(c.ConnectionID)
}

// OnLeave removes a member that closed without RemoveUser.
func (r *ChatRoom) OnLeave(ctx context.Context) {
	c, _ := vm.CallerOf(ctx)
	r.remove(c.ConnectionID)
}

func (r *ChatRoom) remove(id string) {
	if r.user(id) == nil {
		return
	}
	r.Users = slices.DeleteFunc(r.Users, func(u *ChatUser) bool { return u.Id == id })
	r.RemoveList("Users", id)
}

// maxSafeID is JavaScript's Number.MAX_SAFE_INTEGER (2^53 - 1): every id up to it reaches
// the browser exactly, so no two ids collapse into one key.
const maxSafeID = 1<<53 - 1

// nextID is the message date in Unix milliseconds (dotNetify uses .NET ticks, which are
// beyond 2^53 and lose their last digits in a JavaScript number), bumped past the last id
// so that ids stay unique and increasing in the room.
func (r *ChatRoom) nextID(t time.Time) int64 {
	id := t.UnixMilli()
	if id <= r.lastID || id > maxSafeID {
		id = r.lastID + 1
	}
	r.lastID = id
	return id
}

func (r *ChatRoom) user(id string) *ChatUser {
	for _, u := range r.Users {
		if u.Id == id {
			return u
		}
	}
	return nil
}

func (r *ChatRoom) userNamed(name string) *ChatUser {
	for _, u := range r.Users {
		if u.Name == name {
			return u
		}
	}
	return nil
}
