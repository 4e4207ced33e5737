// Where the page finds the WebSocket URL of the API Gateway stage, in order:
//   1. the `?ws=` query parameter (handy to point one build at another stage);
//   2. `./config.json` next to index.html, `{"websocketUrl": "ws://…/prod"}`,
//      which `wsgate dev` writes for the local gateway;
//   3. `VITE_WSGATE_WEBSOCKET_URL`, baked in at build time for a deployed stage.
// A config.json that exists but is malformed is an error, not a silent
// fallback, so a broken deployment is visible at once.

const bakedUrl = import.meta.env.VITE_WSGATE_WEBSOCKET_URL;

/** Checks that url is an absolute ws:// or wss:// URL and returns it. */
export function checkWebSocketUrl(url, source) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${source}: "${url}" is not a URL; want ws://host/stage or wss://host/stage`);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new Error(`${source}: "${url}" has scheme ${parsed.protocol}; want ws: or wss:`);
  }
  return url;
}

async function readConfigFile() {
  const res = await fetch("./config.json", { cache: "no-store" });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  let config;
  try {
    config = await res.json();
  } catch (err) {
    throw new Error(`config.json: not JSON (${err.message})`);
  }
  if (typeof config?.websocketUrl !== "string" || config.websocketUrl === "") {
    throw new Error('config.json: want {"websocketUrl": "ws://host/stage"}');
  }
  return checkWebSocketUrl(config.websocketUrl, "config.json websocketUrl");
}

/** Resolves the WebSocket URL and says where it came from. */
export async function resolveWebSocketUrl(search = window.location.search) {
  const fromQuery = new URLSearchParams(search).get("ws");
  if (fromQuery) return { url: checkWebSocketUrl(fromQuery, "?ws="), source: "?ws= parameter" };
  const fromFile = await readConfigFile();
  if (fromFile) return { url: fromFile, source: "config.json" };
  if (bakedUrl) {
    return { url: checkWebSocketUrl(bakedUrl, "VITE_WSGATE_WEBSOCKET_URL"), source: "build setting" };
  }
  throw new Error(
    "no WebSocket URL: add ?ws=ws://host/stage, serve a config.json, or build with VITE_WSGATE_WEBSOCKET_URL",
  );
}
