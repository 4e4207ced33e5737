// Faults seen from the client: the gateway drops or loses every connection,
// the server is replaced or killed mid-session, and pushes are refused (429 throttling,
// 500 errors) for a while. In each case the real dotnetify client must come
// back by itself (reconnect, re-request its view models) and show live state,
// and no update may be lost.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { DotnetifyClient, takeConsoleErrors } from "./lib/client.mjs";
import { allReceive, assertNoClientErrors } from "./lib/checks.mjs";
import { startStack } from "./lib/stack.mjs";

// The client retries 2 s, then 5 s, then every 10 s after a drop (§7.1); a
// server that is briefly away can cost it one or two of those steps.
const reconnectTimeoutMs = 30_000;

let stack;
let clients = [];

afterEach(async () => {
  const these = clients;
  clients = [];
  try {
    assertNoClientErrors(these);
  } finally {
    these.forEach((c) => c.close());
    await stack?.stop();
    stack = null;
  }
});

/** Two clients with HelloWorld (per connection) and SimpleList (shared), fully loaded. */
async function twoClients() {
  takeConsoleErrors();
  stack = await startStack();
  const out = [];
  for (const name of ["A", "B"]) {
    const c = new DotnetifyClient(stack.websocketUrl, name);
    clients.push(c);
    const hello = c.connect("HelloWorldVM");
    const list = c.connect("SimpleListVM");
    await hello.waitFor((s) => s.FullName === "Hello World", "the HelloWorld full state");
    await list.waitFor((s) => s.Employees?.length === 7, "the SimpleList full state");
    hello.skipResponses();
    list.skipResponses();
    out.push({ c, hello, list });
  }
  return out;
}

/** Waits for every client's next connection and checks it re-requested both view models. */
async function reconnected(all, connects) {
  await Promise.all(all.map(({ c }) => c.waitForConnects(connects, reconnectTimeoutMs)));
  for (const { c, hello, list } of all) {
    // The first frames on the new connection are the full states again.
    assert.deepEqual(await hello.nextResponse(), { FirstName: "Hello", LastName: "World", FullName: "Hello World" });
    const full = await list.nextResponse();
    assert.deepEqual(Object.keys(full).sort(), ["Employees", "Employees_itemKey"], `${c.name} SimpleList full state`);
    assert.deepEqual(list.state.Employees, full.Employees);
    const requests = c.sent().filter((f) => f.callType === "request_vm");
    assert.deepEqual(
      requests.map((f) => `${f.vmId} ${f.vmArgs}`),
      Array.from({ length: connects }, () => ["HelloWorldVM {}", "SimpleListVM {}"]).flat(),
      `${c.name} re-requests each view model once per connection, with its original vmArgs`,
    );
  }
}

/** Checks that both view models are live again: per-connection and shared updates arrive. */
async function live(all, name) {
  for (const { hello } of all) {
    hello.dispatchState({ FirstName: name });
    assert.deepEqual(await hello.nextResponse(), { FullName: `${name} World` });
  }
  all[0].list.dispatch({ Add: `${name} Live` });
  const added = await all[0].list.nextResponse();
  assert.deepEqual(Object.keys(added), ["Employees_add"]);
  assert.equal(added.Employees_add.FirstName, name);
  await allReceive(all.slice(1).map(({ list }) => list), added);
  for (const { list } of all) assert.deepEqual(list.state.Employees.at(-1), added.Employees_add);
}

describe("the client comes back by itself", () => {
  test("the gateway drops every connection", async () => {
    const all = await twoClients();
    assert.equal(await stack.dropConnections(), 2);
    await reconnected(all, 2);
    await live(all, "Dropped");
  });

  test("the gateway restarts", async () => {
    const all = await twoClients();
    await stack.restartGateway();
    await reconnected(all, 2);
    await live(all, "Restarted");
  });

  test("the server restarts mid-session", async () => {
    const all = await twoClients();
    await stack.restartServer();
    await reconnected(all, 2);
    await live(all, "Replaced");
  });

  test("the server is killed mid-session and started again", async () => {
    const all = await twoClients();
    await stack.killServer();
    // The gateway kept the sockets open, so the clients noticed nothing. The new server
    // holds no session for their connections: it answers the next update by closing it.
    for (const { hello } of all) hello.dispatchState({ FirstName: "Lost" });
    await reconnected(all, 2);
    await live(all, "Recovered");
  });
});

describe("refused pushes", () => {
  for (const status of [429, 500]) test(`pushes refused with ${status} for a while are delivered later, in order`, async () => {
    const all = await twoClients();
    const lists = all.map(({ list }) => list);
    const names = ["Ada One", "Ben Two", "Cy Three", "Di Four", "Eve Five"];

    await stack.refusePushes(6, status);
    for (const name of names) all[0].list.dispatch({ Add: name });

    // Every client gets every add, in the order the server made them.
    for (const [i, name] of names.entries()) {
      const [first, last] = name.split(" ");
      await allReceive(lists, { Employees_add: { Id: 8 + i, FirstName: first, LastName: last } });
    }
    for (const list of lists) {
      assert.deepEqual(
        list.state.Employees.slice(7).map((e) => `${e.FirstName} ${e.LastName}`),
        names,
        `${list.label()} has every added employee`,
      );
    }
    // Nothing was torn down by the refusals: the same connections are live.
    for (const { c } of all) assert.equal(c.connects, 1, `${c.name} kept its connection`);
    await live(all, "Accepted");

    // The six refused pushes were retried, and nothing was given up on.
    const stats = await stack.stopServerForStats();
    assert.deepEqual(
      { retried: stats.retried, failed: stats.failed, dropped: stats.dropped },
      { retried: 6, failed: 0, dropped: 0 },
      `server push counters: ${JSON.stringify(stats)}`,
    );
  });
});
