import { createRoot } from "react-dom/client";
import { resolveWebSocketUrl } from "./config.js";
import { startHub } from "./connection.js";
import App from "./App.jsx";
import "./styles.css";

// No StrictMode: its double-mounted effects would connect, dispose and
// reconnect every view model on load, which is noise on the wire.
const root = createRoot(document.getElementById("root"));

resolveWebSocketUrl()
  .then(({ url, source }) => {
    startHub(url);
    root.render(<App websocketUrl={url} urlSource={source} />);
  })
  .catch((err) => {
    root.render(
      <main className="fatal" data-testid="config-error">
        <h1>wsgate demo</h1>
        <p>The page cannot start: {err.message}</p>
      </main>,
    );
  });
