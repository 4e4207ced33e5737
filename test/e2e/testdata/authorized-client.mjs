// Driven by test/e2e/authorizer_test.go: against a gateway whose $connect runs
// examples/authorizer, it opens a socket without a token (and reports the
// handshake status), then connects the real dotnetify client with ?token=…
// to WhoAmIVM and prints what the view model saw, as one JSON line.
//
// usage: node authorized-client.mjs WEBSOCKET_URL TOKEN

import WebSocket from "ws";
import { DotnetifyClient } from "../lib/client.mjs";

const [url, token] = process.argv.slice(2);

/** The handshake status a plain WebSocket gets: 101 when admitted. */
function handshakeStatus(target) {
  return new Promise((resolve) => {
    const ws = new WebSocket(target);
    ws.on("unexpected-response", (req, res) => {
      resolve(res.statusCode);
      req.destroy();
    });
    ws.on("open", () => {
      resolve(101);
      ws.close();
    });
    ws.on("error", () => {});
  });
}

const withoutToken = await handshakeStatus(url);
const client = new DotnetifyClient(`${url}?token=${encodeURIComponent(token)}`, "authorized");
const vm = client.connect("WhoAmIVM");
try {
  await vm.waitFor((s) => s.Principal !== undefined, "a Principal in the state");
} catch (err) {
  console.error(err.message, "; connection states:", client.states.join(", "), "; socket URLs:", client.sockets.map((s) => s.url).join(" "), "; frames:", JSON.stringify(client.frames));
  process.exit(1);
}
console.log(JSON.stringify({ withoutToken, state: vm.state, unexpectedErrors: client.unexpectedErrors().length }));
client.close();
process.exit(0);
