import { useEffect, useState } from "react";
import { useConnectionState } from "./connection.js";
import HelloWorld from "./demos/HelloWorld.jsx";
import ControlTypes from "./demos/ControlTypes.jsx";
import SimpleList from "./demos/SimpleList.jsx";
import LiveChart from "./demos/LiveChart.jsx";
import ChatRoom from "./demos/ChatRoom.jsx";

// The demos in the order dotNetify's demo site lists them. Only the selected
// one is mounted, so its view model is requested on entry and disposed on exit.
const demos = [
  { id: "HelloWorld", title: "Hello World", blurb: "Two-way binding of a form.", Component: HelloWorld },
  { id: "ControlTypes", title: "Control Types", blurb: "Inputs, lists and commands.", Component: ControlTypes },
  { id: "SimpleList", title: "Simple List", blurb: "CRUD on a list shared by every viewer.", Component: SimpleList },
  { id: "LiveChart", title: "Live Chart", blurb: "Server pushes every second.", Component: LiveChart },
  { id: "ChatRoom", title: "Chat Room", blurb: "Multicast and private messages.", Component: ChatRoom },
];

function demoFromHash() {
  const id = window.location.hash.replace(/^#\/?/, "");
  return demos.find((d) => d.id === id) ?? demos[0];
}

function useSelectedDemo() {
  const [demo, setDemo] = useState(demoFromHash);
  useEffect(() => {
    const onHash = () => setDemo(demoFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  return demo;
}

const stateLabels = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  terminated: "Gave up reconnecting",
};

function ConnectionBadge({ websocketUrl, urlSource }) {
  const { state, connects, lastError } = useConnectionState();
  return (
    <div className="connection">
      <span
        className={`badge badge-${state}`}
        data-testid="connection-state"
        data-state={state}
        data-connects={connects}
        title={lastError || `${websocketUrl} (from ${urlSource})`}
      >
        <span className="dot" /> {stateLabels[state]}
      </span>
      <code className="url" data-testid="websocket-url">
        {websocketUrl}
      </code>
    </div>
  );
}

/** The demo page: navigation, connection state and the selected demo. */
export default function App({ websocketUrl, urlSource }) {
  const demo = useSelectedDemo();
  const { Component } = demo;
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <strong>wsgate</strong> <span>dotNetify demos on API Gateway WebSockets</span>
        </div>
        <ConnectionBadge websocketUrl={websocketUrl} urlSource={urlSource} />
      </header>
      <nav className="sidebar" aria-label="Demos">
        {demos.map((d) => (
          <a
            key={d.id}
            href={`#/${d.id}`}
            className={d.id === demo.id ? "active" : ""}
            aria-current={d.id === demo.id ? "page" : undefined}
            data-testid={`nav-${d.id}`}
          >
            <span className="nav-title">{d.title}</span>
            <span className="nav-blurb">{d.blurb}</span>
          </a>
        ))}
      </nav>
      <main className="content" data-testid={`demo-${demo.id}`}>
        <h1>{demo.title}</h1>
        <Component key={demo.id} />
      </main>
    </div>
  );
}
