package vm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/server/protocol"
)

// A queued message is counted against MaxPendingBytes with what it holds once parsed: an
// update of many one-byte keys holds a parsed argument per key besides its text, so a
// connection cannot queue several times the bound in argument headers.
func TestMessageCostCountsParsedArguments(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	const keys = 10000
	for i := range keys {
		if i > 0 {
			b.WriteString(`,`)
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	b.WriteString(`}`)
	m, err := protocol.DecodeMessage([]byte(`{"callType":"update_vm","vmId":"X","value":"` + strings.ReplaceAll(b.String(), `"`, `\"`) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Args) != keys {
		t.Fatalf("%d args, want %d", len(m.Args), keys)
	}
	held := len(m.Value) + keys*argOverhead
	if got := messageCost(m); got < held {
		t.Errorf("cost %d, under the %d bytes the parsed message holds", got, held)
	}
}
