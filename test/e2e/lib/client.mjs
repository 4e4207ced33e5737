// The real dotnetify@5.4.0 client in Node, driven the way the shipped
// `dist/dotnetify.js` documents for use outside React (dotnetify-protocol.md
// §10): a `window` global, a WebSocket global, `createWebSocketHub(url)` and
// `dotnetify.connect(vmId, {getState, setState})`.
//
// Each DotnetifyClient evaluates its own copy of the bundle, because the
// bundle is a singleton (one hub, one view model per vmId): fifty clients are
// fifty browsers. Every frame each client's socket sends and receives is
// recorded, so tests can check the wire as well as the client-side state.

import { createRequire } from "node:module";
import { inspect } from "node:util";
import WebSocket from "ws";

const require = createRequire(import.meta.url);
const bundlePath = require.resolve("dotnetify/dist/dotnetify.js");

/** How long a test waits for the client to reach an expected state. */
export const waitTimeoutMs = 20_000;

globalThis.window ??= globalThis;

// The client that is opening a socket right now: the hub creates its socket
// synchronously inside startHub, which each client wraps.
let opening = null;

/** A `ws` WebSocket that reports its frames and listener errors to the client that opened it. */
class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.owner = opening;
    this.owner?.sockets.push(this);
    super.addEventListener("message", (ev) => this.owner?.record("received", ev.data));
  }

  send(data, ...rest) {
    this.owner?.record("sent", data);
    return super.send(data, ...rest);
  }

  // The hub throws from inside its listeners (a refused connection rethrows
  // from the "error" listener, a non-JSON frame throws in "message"). With the
  // `ws` package such a throw would be uncaught and stop later frames, so it is
  // caught here and kept for the test to inspect.
  addEventListener(type, listener, options) {
    super.addEventListener(
      type,
      (ev) => {
        try {
          listener.call(this, ev);
        } catch (err) {
          this.owner?.listenerErrors.push({ type, err });
        }
      },
      options,
    );
  }
}
globalThis.WebSocket = RecordingWebSocket;

// dotnetify reports protocol problems (an unresolvable list key, a duplicate
// item) only through console.error; tests assert there were none.
const consoleErrors = [];
const originalConsoleError = console.error;
console.error = (...args) => {
  consoleErrors.push(args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" "));
  originalConsoleError(...args);
};

/** Returns and clears what dotnetify logged with console.error since the last call. */
export function takeConsoleErrors() {
  return consoleErrors.splice(0);
}

function loadBundle() {
  delete require.cache[bundlePath];
  return require(bundlePath).default;
}

function describe(value) {
  const text = JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** Waits until check() is true, re-checking whenever notify fires; fails after the deadline. */
function waitUntil(waiters, check, what, timeoutMs = waitTimeoutMs) {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const waiter = () => {
      if (!check()) return;
      clearTimeout(timer);
      waiters.delete(waiter);
      resolve();
    };
    const timer = setTimeout(() => {
      waiters.delete(waiter);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
    }, timeoutMs);
    waiters.add(waiter);
  });
}

/** One client view model: its state, the responses it got, and dispatch. */
export class ViewModel {
  constructor(client, vmId, options) {
    this.client = client;
    this.vmId = vmId;
    this.state = {};
    /** Every response_vm `data` for this view model, parsed, in arrival order. */
    this.responses = [];
    this.consumed = 0;
    this.waiters = new Set();
    this.vm = client.dotnetify.connect(vmId, {
      ...options,
      getState: () => this.state,
      setState: (change) => {
        this.state = { ...this.state, ...change };
        this.#notify();
      },
    });
  }

  #notify() {
    for (const w of [...this.waiters]) w();
  }

  /** Called by the client for each response_vm frame, before dotnetify merges it. */
  onResponse(data) {
    this.responses.push(JSON.parse(data));
    // The merge into state happens right after this, in the same task.
    queueMicrotask(() => this.#notify());
  }

  /** Resolves with the next response's data that no earlier call returned. */
  async nextResponse() {
    const index = this.consumed;
    await waitUntil(this.waiters, () => this.responses.length > index, () => `response #${index + 1} to ${this.label()}`);
    this.consumed = index + 1;
    return this.responses[index];
  }

  /** Marks every response received so far as seen. */
  skipResponses() {
    this.consumed = this.responses.length;
  }

  /** Waits until predicate(state) is true. */
  waitFor(predicate, what = predicate.toString()) {
    return waitUntil(
      this.waiters,
      () => predicate(this.state),
      () => `${this.label()} to satisfy ${what}; state is ${describe(this.state)}`,
    );
  }

  /** Sends an update_vm; fails instead of being dropped silently while disconnected. */
  dispatch(value) {
    if (!this.client.hub.isConnected) throw new Error(`${this.label()}: dispatch while disconnected would be dropped`);
    this.vm.$dispatch(value);
  }

  /** Sets state locally, as the demo page's inputs do, and sends it as an update_vm. */
  dispatchState(change) {
    this.state = { ...this.state, ...change };
    this.dispatch(change);
  }

  /** Sends dispose_vm (when connected) and forgets the view model. */
  destroy() {
    this.vm.$destroy();
    this.client.viewModels.delete(this.vmId);
  }

  label() {
    return `${this.client.name}/${this.vmId}`;
  }
}

/** One browser's worth of dotnetify: its own hub, socket and view models. */
export class DotnetifyClient {
  constructor(url, name = "client") {
    this.name = name;
    this.url = url;
    this.frames = [];
    this.sockets = [];
    this.listenerErrors = [];
    this.states = [];
    this.connects = 0;
    this.viewModels = new Map();
    this.waiters = new Set();

    this.dotnetify = loadBundle();
    this.hub = this.dotnetify.createWebSocketHub(url);
    this.dotnetify.hub = this.hub;
    this.dotnetify.connectionStateHandler = (state) => {
      this.states.push(state);
      if (state === "connected") this.connects += 1;
      for (const w of [...this.waiters]) w();
    };
    const startHub = this.hub.startHub.bind(this.hub);
    this.hub.startHub = (...args) => {
      opening = this;
      try {
        return startHub(...args);
      } finally {
        opening = null;
      }
    };
    // Subscribed before any view model connects, so this runs before
    // dotnetify's own handler merges the data into state.
    this.hub.responseEvent.subscribe((vmId, data) => {
      this.viewModels.get(vmId)?.onResponse(data);
      return false;
    });
  }

  record(direction, data) {
    this.frames.push({ direction, data: String(data) });
  }

  /** Connects a view model (sends request_vm once the socket is open). */
  connect(vmId, options = {}) {
    const vm = new ViewModel(this, vmId, options);
    this.viewModels.set(vmId, vm);
    return vm;
  }

  /** Waits until the hub has reported "connected" at least n times in total. */
  waitForConnects(n, timeoutMs = waitTimeoutMs) {
    return waitUntil(
      this.waiters,
      () => this.connects >= n && this.hub.isConnected,
      () => `${this.name} to connect ${n} time(s); states so far: ${this.states.join(", ")}`,
      timeoutMs,
    );
  }

  /** The frames this client sent, parsed. */
  sent() {
    return this.frames.filter((f) => f.direction === "sent").map((f) => JSON.parse(f.data));
  }

  /** Errors the hub threw inside socket listeners other than failed (re)connection attempts. */
  unexpectedErrors() {
    return this.listenerErrors.filter(({ err }) => err?.type !== "DotNetifyHubException");
  }

  /** Stops reconnecting and closes the socket, as closing the browser tab would. */
  close() {
    this.hub.reconnectRetry = 0;
    clearTimeout(this.hub._reconnectTimeout);
    for (const s of this.sockets) s.close();
  }
}
