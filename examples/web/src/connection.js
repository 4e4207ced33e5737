import { useSyncExternalStore } from "react";
import dotnetify from "dotnetify";

// The hub's connection state as the page shows it. dotnetify's WebSocket hub
// never reports "connecting" (it starts silent and says "connected" on open),
// and after a drop it says "disconnected" and then "reconnecting" when its
// retry timer fires; both mean the page is trying to get back, so both show as
// "reconnecting".
let snapshot = { state: "connecting", connects: 0, lastError: "" };
const listeners = new Set();

function publish(next) {
  snapshot = { ...snapshot, ...next };
  listeners.forEach((listener) => listener());
}

function onHubState(state, exception) {
  switch (state) {
    case "connected":
      publish({ state: "connected", connects: snapshot.connects + 1, lastError: "" });
      break;
    case "disconnected":
    case "reconnecting":
      publish({ state: snapshot.connects > 0 ? "reconnecting" : "connecting" });
      break;
    case "terminated":
      publish({ state: "terminated" });
      break;
    case "error":
      publish({ lastError: exception?.message ?? "connection error" });
      break;
  }
}

// dotnetify's WebSocket hub reports each failed connection attempt to the
// state handler and then also throws it from inside the socket's error
// listener, where nothing can catch it. The badge already shows the failure,
// so that second, uncaught copy is silenced; every other error still surfaces.
function silenceHubConnectionErrors(event) {
  if (event.error?.type === "DotNetifyHubException") event.preventDefault();
}

/** Points dotnetify at the stage's WebSocket URL; call once, before any view model connects. */
export function startHub(url) {
  dotnetify.hub = dotnetify.createWebSocketHub(url);
  dotnetify.connectionStateHandler = onHubState;
  window.addEventListener("error", silenceHubConnectionErrors);
}

/** The hub's connection state: {state, connects, lastError}. */
export function useConnectionState() {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => snapshot,
  );
}
