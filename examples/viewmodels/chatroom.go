package viewmodels

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wsgate/wsgate/server/vm"
)

// ChatUser is a member of the chat room as every member sees it. Id is random, made when the
// member joins: the connection id and the source IP are never sent to other members (a
// connection id is all a forger needs to act for someone, and an address is personal
// data). IpAddress stays in the state, always null, so pages written for dotNetify's
// ChatRoomVM keep working.
type ChatUser struct {
	Id            string
	CorrelationId string
	Name          string
	IpAddress     *string
	Browser       *string
	conn          string // the member's connection, for whispers; not state
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

// Limits of the room. Its full state goes to every joiner in one frame, which API Gateway
// caps at 131,072 bytes: 50 users of at most about 1.3 KB of JSON each (every byte of a
// name a quote, escaped twice on the way) plus 24 KiB of history (twice that escaped) stay
// under it with room to spare, whatever the members type.
const (
	maxUsers        = 50
	maxNameBytes    = 64  // Name and CorrelationId
	maxBrowserBytes = 128 // Browser is clipped, it is the client's User-Agent
	maxMessageBytes = 4096
	maxHistory      = 100      // messages a joiner receives
	maxHistoryBytes = 24 << 10 // of their JSON
)

// ChatRoom is dotNetify's ChatRoomVM: one room shared by every connection. It keeps the last
// maxHistory messages (at most maxHistoryBytes of JSON) for joiners; members already in
// the room keep what they received.
type ChatRoom struct {
	vm.Base
	Messages     []ChatMessage `vm:"itemkey=Id"`
	Users        []*ChatUser   `vm:"itemkey=Id"`
	userCount    int
	lastID       int64
	historyBytes int           // JSON bytes of Messages
	newID        func() string // a new member's Id
}

// NewChatRoom returns an empty room.
func NewChatRoom(*vm.Request) (*ChatRoom, error) {
	return &ChatRoom{Messages: []ChatMessage{}, Users: []*ChatUser{}, newID: rand.Text}, nil
}

// AddUser adds the calling connection as "user<N>"; correlationID lets the client find
// itself in Users.
func (r *ChatRoom) AddUser(ctx context.Context, correlationID string) error {
	c, _ := vm.CallerOf(ctx)
	if r.user(c.ConnectionID) != nil {
		return nil
	}
	if len(correlationID) > maxNameBytes {
		return &vm.Exception{Type: "ArgumentException", Message: fmt.Sprintf("a correlation id may have at most %d bytes", maxNameBytes)}
	}
	if len(r.Users) >= maxUsers {
		return &vm.Exception{Type: "InvalidOperationException", Message: fmt.Sprintf("the room is full (%d users)", maxUsers)}
	}
	r.userCount++
	u := &ChatUser{Id: r.newID(), CorrelationId: printable(correlationID), Name: fmt.Sprintf("user%d", r.userCount), conn: c.ConnectionID}
	if c.UserAgent != "" {
		b := clipBytes(printable(c.UserAgent), maxBrowserBytes)
		u.Browser = &b
	}
	r.Users = append(r.Users, u)
	r.AddList("Users", u)
	return nil
}

var privatePrefix = regexp.MustCompile(`^(\w+):`)

// SendMessage posts a message. A "name:" prefix makes it private: only the named user and
// the sender get it, as PrivateMessage.
func (r *ChatRoom) SendMessage(ctx context.Context, in ChatInput) error {
	c, _ := vm.CallerOf(ctx)
	u := r.user(c.ConnectionID)
	if u == nil {
		return nil
	}
	if len(in.Text) > maxMessageBytes {
		return &vm.Exception{Type: "ArgumentException", Message: fmt.Sprintf("a message may have at most %d bytes; this one has %d", maxMessageBytes, len(in.Text))}
	}
	if len(in.UserName) > maxNameBytes {
		return &vm.Exception{Type: "ArgumentException", Message: fmt.Sprintf("a name may have at most %d bytes", maxNameBytes)}
	}
	if name := printable(in.UserName); name != "" && name != u.Name {
		u.Name = name
		r.UpdateList("Users", u)
	}
	msg := ChatMessage{Id: r.nextID(in.Date), UserId: u.Id, UserName: u.Name, Date: DateTimeOffset(in.Date), Text: in.Text}
	if m := privatePrefix.FindStringSubmatch(in.Text); m != nil {
		if target := r.userNamed(m[1]); target != nil {
			r.Send([]string{target.conn, u.conn}, "PrivateMessage", msg)
			return nil
		}
	}
	r.remember(msg)
	r.AddList("Messages", msg)
	return nil
}

// remember appends msg to the history and drops the oldest messages past its limits.
func (r *ChatRoom) remember(msg ChatMessage) {
	r.Messages = append(r.Messages, msg)
	r.historyBytes += jsonSize(msg)
	drop := 0
	for len(r.Messages)-drop > maxHistory || (r.historyBytes > maxHistoryBytes && drop < len(r.Messages)-1) {
		r.historyBytes -= jsonSize(r.Messages[drop])
		drop++
	}
	if drop > 0 {
		r.Messages = slices.Delete(r.Messages, 0, drop)
	}
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

func (r *ChatRoom) remove(conn string) {
	u := r.user(conn)
	if u == nil {
		return
	}
	r.Users = slices.DeleteFunc(r.Users, func(x *ChatUser) bool { return x == u })
	r.RemoveList("Users", u.Id)
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

// user finds the member on connection conn.
func (r *ChatRoom) user(conn string) *ChatUser {
	for _, u := range r.Users {
		if u.conn == conn {
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

// jsonSize is the length of v's JSON, what a message costs in the full state.
func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

// printable drops control characters, which JSON escapes to six bytes each.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// clipBytes cuts s to at most n bytes on a rune boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
