// The demo page in headless Chromium against the local gateway and server:
// each browser context is a separate browser with its own WebSocket. The
// screenshots land in test/artifacts/ for a human to look at.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { assertNoPageErrors, launchChromium, openPage, screenshot } from "./lib/browser.mjs";
import { servePage } from "./lib/page.mjs";
import { freePort } from "./lib/processes.mjs";
import { startStack } from "./lib/stack.mjs";

let browser;
let stack;
let site;
const pages = [];

before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

// Every test gets a fresh gateway and server, so shared demos start clean.
async function open(demo) {
  const page = await openPage(browser, `${site.url}#/${demo}`);
  pages.push(page);
  await connected(page, 1);
  return page;
}

/** Waits until the page's badge says connected for the n-th time. */
function connected(page, n) {
  return page.locator(`[data-testid=connection-state][data-state=connected][data-connects="${n}"]`).waitFor();
}

describe("demo page", () => {
  before(async () => {
    stack = await startStack();
    site = await servePage(stack.websocketUrl);
  });
  after(async () => {
    await site?.close();
    await stack?.stop();
  });
  afterEach(async () => {
    const these = pages.splice(0);
    for (const p of these) {
      assertNoPageErrors(assert, p, () => stack.logs());
      await p.context().close();
    }
  });

  test("HelloWorld: typing a name updates the full name from the server", async () => {
    const page = await open("HelloWorld");
    const fullName = page.getByTestId("hello-fullname");
    await fullName.filter({ hasText: /^Hello World$/ }).waitFor();

    await page.getByTestId("hello-first").fill("Jane");
    await fullName.filter({ hasText: /^Jane World$/ }).waitFor();

    // One update_vm per keystroke, answered in order.
    await page.getByTestId("hello-last").fill("");
    await page.getByTestId("hello-last").pressSequentially("Doe");
    await fullName.filter({ hasText: /^Jane Doe$/ }).waitFor();
    assert.equal(await page.getByTestId("hello-first").inputValue(), "Jane");
    await screenshot(page, "browser-helloworld");
  });

  test("ControlTypes: controls round-trip through the server view model", async () => {
    const page = await open("ControlTypes");
    await page.getByTestId("ct-checkbox-result").filter({ hasText: "Enabled" }).waitFor();

    await page.getByTestId("ct-textbox").fill("abc");
    await page.getByTestId("ct-textbox-result").filter({ hasText: /^You typed: abc$/ }).waitFor();
    await page.getByTestId("ct-search").fill("m");
    await page.getByTestId("ct-search-results").filter({ hasText: "MercuryMars" }).waitFor();
    await page.getByTestId("ct-dropdown").selectOption("2");
    await page.getByTestId("ct-dropdown-result").filter({ hasText: /^You selected: Object Two$/ }).waitFor();
    await page.getByTestId("ct-radio-yellow").check();
    await page.getByTestId("ct-radio-style").filter({ hasText: /^label-warning$/ }).waitFor();
    await page.getByTestId("ct-button").click();
    await page.getByTestId("ct-button").click();
    await page.getByTestId("ct-click-count").filter({ hasText: /^2$/ }).waitFor();
    await screenshot(page, "browser-controltypes");
  });

  test("LiveChart: the server's pushes extend the drawn waveform", async () => {
    const page = await open("LiveChart");
    const chart = page.getByTestId("livechart-waveform");
    await page.locator("[data-testid=livechart-waveform][data-points='30']").waitFor();
    await page.locator("[data-testid=livechart-waveform][data-last-x='32']").waitFor();
    // 30 points on screen, drawn as one line.
    assert.equal(await chart.locator("circle").count(), 30);
    assert.match(await chart.locator("path.line").getAttribute("d"), /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){29}$/);
    assert.equal(await page.getByTestId("livechart-bar").getAttribute("data-bars"), "12");
    assert.equal(await page.getByTestId("livechart-pie").getAttribute("data-slices"), "3");
    await screenshot(page, "browser-livechart");
  });

  test("SimpleList: add, update and remove in one browser show in another", async () => {
    const one = await open("SimpleList");
    const two = await open("SimpleList");
    for (const p of [one, two]) await p.locator("[data-testid=list-table][data-count='7']").waitFor();

    await one.getByTestId("list-new-name").fill("John Smith");
    await one.getByTestId("list-add").click();
    for (const p of [one, two]) await p.locator("[data-testid=list-row][data-name='John Smith']").waitFor();

    const first = one.locator("[data-testid=list-row][data-name='John Smith'] [data-testid=list-first]");
    await first.fill("Johnny");
    await first.press("Enter");
    for (const p of [one, two]) await p.locator("[data-testid=list-row][data-name='Johnny Smith']").waitFor();
    await screenshot(two, "browser-simplelist-second-after-update");

    await two.locator("[data-testid=list-row][data-name='Johnny Smith'] [data-testid=list-remove]").click();
    for (const p of [one, two]) {
      await p.locator("[data-testid=list-table][data-count='7']").waitFor();
      assert.equal(await p.locator("[data-testid=list-row][data-name='Johnny Smith']").count(), 0);
    }
    await screenshot(one, "browser-simplelist-first-after-remove");
  });

  test("ChatRoom: two browsers chat, rename and whisper", async () => {
    const one = await open("ChatRoom");
    await one.locator("[data-testid=chat-me][data-name=user1]").waitFor();
    const two = await open("ChatRoom");
    await two.locator("[data-testid=chat-me][data-name=user2]").waitFor();
    for (const p of [one, two]) await p.locator("[data-testid=chat-users][data-count='2']").waitFor();

    await one.getByTestId("chat-input").fill("my name is Ann");
    await one.getByTestId("chat-send").click();
    await one.locator("[data-testid=chat-me][data-name=Ann]").waitFor();
    await two.getByTestId("chat-user").filter({ hasText: /^Ann$/ }).waitFor();

    await two.getByTestId("chat-input").fill("hello Ann");
    await two.getByTestId("chat-input").press("Enter");
    for (const p of [one, two]) await p.locator("[data-testid=chat-messages][data-count='2']").waitFor();
    const texts = await one.locator("[data-testid=chat-message] .text").allTextContents();
    assert.deepEqual(texts, ["my name is Ann", "hello Ann"]);

    await two.getByTestId("chat-input").fill("Ann: just between us");
    await two.getByTestId("chat-send").click();
    await one.locator("[data-testid=chat-message].private").filter({ hasText: "Ann: just between us" }).waitFor();
    await screenshot(one, "browser-chatroom-first");
    await screenshot(two, "browser-chatroom-second");

    // Leaving the room (navigating away) removes the user for the other browser.
    await two.getByTestId("nav-HelloWorld").click();
    await one.locator("[data-testid=chat-users][data-count='1']").waitFor();
  });
});

describe("demo page across a gateway outage", () => {
  before(async () => {
    stack = await startStack();
    site = await servePage(stack.websocketUrl);
  });
  after(async () => {
    await site?.close();
    await stack?.stop();
  });

  test("the page shows reconnecting, comes back and is live again", async () => {
    const hello = await open("HelloWorld");
    const list = await open("SimpleList");
    const chat = await open("ChatRoom");
    await hello.getByTestId("hello-fullname").filter({ hasText: /^Hello World$/ }).waitFor();
    await list.locator("[data-testid=list-table][data-count='7']").waitFor();
    await chat.locator("[data-testid=chat-me][data-name=user1]").waitFor();

    await stack.stopGateway();
    for (const p of [hello, list, chat]) await p.locator("[data-testid=connection-state][data-state=reconnecting]").waitFor();
    // The gateway stays down until every page has failed a reconnection
    // attempt. dotnetify's hub throws each failure, as a plain object, from the
    // socket's error listener; the page must handle it (the badge shows it) and
    // let nothing escape. Restarting at once would leave that to timing: the
    // first retry comes 2 s after the drop and usually finds the gateway back.
    const refused = `websocket error attempting to connect to ${stack.websocketUrl}`;
    for (const p of [hello, list, chat]) {
      await p.locator(`[data-testid=connection-state][data-state=reconnecting][title="${refused}"]`).waitFor();
    }
    await screenshot(hello, "browser-outage-reconnecting");
    await stack.startGatewayAgain();

    for (const p of [hello, list, chat]) await connected(p, 2);
    // The chat page joins again on its new connection (the room, left empty,
    // starts afresh), and the server takes its messages: it knows the user.
    await chat.locator("[data-testid=chat-me][data-joins='2'][data-name=user1]").waitFor();
    await chat.locator("[data-testid=chat-users][data-count='1']").waitFor();
    await chat.getByTestId("chat-input").fill("back again");
    await chat.getByTestId("chat-send").click();
    await chat.getByTestId("chat-message").filter({ hasText: "back again" }).waitFor();
    await hello.getByTestId("hello-first").fill("Back");
    await hello.getByTestId("hello-fullname").filter({ hasText: /^Back World$/ }).waitFor();
    await list.getByTestId("list-new-name").fill("After Outage");
    await list.getByTestId("list-add").click();
    await list.locator("[data-testid=list-row][data-name='After Outage']").waitFor();
    await screenshot(hello, "browser-outage-back");

    for (const p of pages.splice(0)) {
      assertNoPageErrors(assert, p, () => stack.logs());
      await p.context().close();
    }
  });
});

describe("where the page finds its WebSocket URL", () => {
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.stop());

  async function load(configBody, query = "") {
    const served = await servePage(stack.websocketUrl, { configBody });
    const page = await openPage(browser, `${served.url}${query}#/HelloWorld`);
    return { page, served };
  }

  test("a ?ws= parameter wins over config.json", async () => {
    const { page, served } = await load(JSON.stringify({ websocketUrl: "ws://127.0.0.1:9/nowhere" }), `?ws=${stack.websocketUrl}`);
    try {
      await page.locator("[data-testid=connection-state][data-state=connected]").waitFor();
      assert.equal(await page.getByTestId("websocket-url").textContent(), stack.websocketUrl);
      await page.getByTestId("hello-fullname").filter({ hasText: /^Hello World$/ }).waitFor();
    } finally {
      await page.context().close();
      await served.close();
    }
  });

  test("an unreachable gateway leaves the page connecting, with the reason, and no uncaught errors", async () => {
    const url = `ws://127.0.0.1:${await freePort()}/prod`;
    const served = await servePage(url);
    const page = await openPage(browser, `${served.url}#/HelloWorld`);
    try {
      const badge = page.getByTestId("connection-state");
      await page.waitForFunction(
        (want) => document.querySelector("[data-testid=connection-state]")?.title === want,
        `websocket error attempting to connect to ${url}`,
      );
      assert.equal(await badge.getAttribute("data-state"), "connecting");
      assert.equal(await badge.getAttribute("data-connects"), "0");
      assertNoPageErrors(assert, page);
    } finally {
      await page.context().close();
      await served.close();
    }
  });

  const broken = [
    ["a config.json that is not JSON", "{websocketUrl:", /^The page cannot start: config\.json: not JSON \(.+\)$/],
    ["a config.json without websocketUrl", "{}", /^The page cannot start: config\.json: want \{"websocketUrl": "ws:\/\/host\/stage"\}$/],
    [
      "an http:// URL",
      JSON.stringify({ websocketUrl: "http://127.0.0.1/prod" }),
      /^The page cannot start: config\.json websocketUrl: "http:\/\/127\.0\.0\.1\/prod" has scheme http:; want ws: or wss:$/,
    ],
    [
      "no URL at all",
      null,
      /^The page cannot start: no WebSocket URL: add \?ws=ws:\/\/host\/stage, serve a config\.json, or build with VITE_WSGATE_WEBSOCKET_URL$/,
    ],
  ];
  for (const [what, configBody, message] of broken) {
    test(`${what} stops the page with a clear error`, async () => {
      const { page, served } = await load(configBody);
      try {
        const error = page.getByTestId("config-error").locator("p");
        await error.waitFor();
        assert.match(await error.textContent(), message);
        assert.equal(await page.getByTestId("connection-state").count(), 0, "no connection attempt");
      } finally {
        await page.context().close();
        await served.close();
      }
    });
  }
});
