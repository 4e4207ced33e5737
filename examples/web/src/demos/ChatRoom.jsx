import { useEffect, useLayoutEffect, useRef, useState } from "react";
import dotnetify, { useConnect } from "dotnetify";

const vmId = "ChatRoomVM";

function formatTime(date) {
  const d = new Date(date);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Joins the room each time the server sends the room's full state: on entry
// and again after every reconnection, which gives the page a new connection
// (and so a new user) on the server.
// The hook's vm is only set after a re-render, so the live client view model
// is looked up in dotnetify's registry.
function liveVM() {
  return dotnetify.react.viewModels[vmId];
}

// Returns how many times the page has joined.
function useJoinOnFullState(correlationId) {
  const [joins, setJoins] = useState(0);
  useEffect(() => {
    return dotnetify.hub.responseEvent.subscribe((id, data) => {
      if (id === vmId && Object.hasOwn(JSON.parse(data), "Users")) {
        liveVM()?.$dispatch({ AddUser: correlationId });
        setJoins((n) => n + 1);
      }
      return false;
    });
  }, [correlationId]);
  return joins;
}

/** ChatRoomVM: a room shared by every viewer; "name: text" whispers to one user. */
export default function ChatRoom() {
  const { vm, state } = useConnect(vmId, { Messages: [], Users: [], PrivateMessage: null });
  const [correlationId] = useState(() => `${Math.random()}`);
  const [privates, setPrivates] = useState([]);
  const [text, setText] = useState("");
  const listEnd = useRef(null);

  const joins = useJoinOnFullState(correlationId);

  // Leave before useConnect's own cleanup disposes the view model: layout
  // effect cleanups run before passive ones on unmount.
  useLayoutEffect(
    () => () => {
      liveVM()?.$dispatch({ RemoveUser: null });
    },
    [],
  );

  // The server sends a private message as a property, not a list item.
  useEffect(() => {
    const pm = state.PrivateMessage;
    if (pm) setPrivates((list) => (list.some((m) => m.Id === pm.Id) ? list : [...list, { ...pm, private: true }]));
  }, [state.PrivateMessage]);

  const messages = [...(state.Messages ?? []), ...privates].sort((a, b) => a.Id - b.Id);
  // A block body: newer browsers return a promise from scrollIntoView, and an
  // effect may only return a cleanup function.
  useEffect(() => {
    listEnd.current?.scrollIntoView({ block: "nearest" });
  }, [messages.length]);

  const users = state.Users ?? [];
  const me = users.find((u) => u.CorrelationId === correlationId);

  const send = () => {
    const message = text.trim();
    if (message === "") return;
    const named = /^my name is (.+)$/i.exec(message);
    vm?.$dispatch({ SendMessage: { Text: message, Date: new Date(), UserName: named ? named[1] : "" } });
    setText("");
  };

  return (
    <section className="chat">
      <aside className="card users">
        <h2>In the room</h2>
        <ul data-testid="chat-users" data-count={users.length}>
          {users.map((u) => (
            <li key={u.Id} className={u === me ? "me" : ""} data-testid="chat-user">
              {u.Name}
              {u === me && " (you)"}
            </li>
          ))}
        </ul>
      </aside>
      <div className="card room">
        <p className="hint" data-testid="chat-me" data-name={me?.Name ?? ""} data-joins={joins}>
          {me ? `You are ${me.Name}. ` : "Joining… "}Say "my name is …" to rename yourself, "name: …" to whisper.
        </p>
        <ol className="messages" data-testid="chat-messages" data-count={messages.length}>
          {messages.map((m) => (
            <li key={`${m.private ? "p" : "m"}${m.Id}`} className={m.private ? "private" : ""} data-testid="chat-message">
              <span className="who">{m.UserName}</span>
              <span className="when">{formatTime(m.Date)}</span>
              <span className="text">{m.Text}</span>
            </li>
          ))}
          <li ref={listEnd} className="end" aria-hidden="true" />
        </ol>
        <form
          className="add-row"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
        >
          <input
            placeholder="Type a message"
            data-testid="chat-input"
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <button type="submit" data-testid="chat-send">
            Send
          </button>
        </form>
      </div>
    </section>
  );
}
