// `wsgate dev`, the newcomer's one command, seen from a browser: it prints its
// URLs, serves the demo page with a config.json for the local gateway, and the
// page works against the gateway and server it started.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertNoPageErrors, launchChromium, openPage, screenshot } from "./lib/browser.mjs";
import { Proc, binary } from "./lib/processes.mjs";

// The first run synthesizes the CDK app, which takes a while on a small machine.
const devReadyTimeoutMs = 240_000;

let dev;
let browser;

before(async () => {
  dev = new Proc("wsgate dev", binary("wsgate"), ["dev", "--addr", "127.0.0.1:0", "--demo-addr", "127.0.0.1:0"], {
    JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION: "1",
  });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

test("wsgate dev serves the demo page wired to its gateway and server", { timeout: devReadyTimeoutMs + 60_000 }, async () => {
  const [, websocketUrl] = await dev.waitForLine(/^websocket: (ws:\/\/127\.0\.0\.1:\d+\/\w+)$/, devReadyTimeoutMs);
  const [, callbackUrl] = await dev.waitForLine(/^callback: (http:\/\/127\.0\.0\.1:\d+\/\w+)$/, devReadyTimeoutMs);
  const [, demoUrl] = await dev.waitForLine(/^demo: (http:\/\/127\.0\.0\.1:\d+\/\S*)$/, devReadyTimeoutMs);
  assert.equal(new URL(websocketUrl).pathname, new URL(callbackUrl).pathname, "one stage for clients and callbacks");

  const config = await fetch(new URL("config.json", demoUrl));
  assert.equal(config.status, 200);
  assert.deepEqual(await config.json(), { websocketUrl });

  const page = await openPage(browser, `${demoUrl}#/HelloWorld`);
  await page.locator("[data-testid=connection-state][data-state=connected]").waitFor();
  assert.equal(await page.getByTestId("websocket-url").textContent(), websocketUrl);
  await page.getByTestId("hello-fullname").filter({ hasText: /^Hello World$/ }).waitFor();
  await page.getByTestId("hello-first").fill("Dev");
  await page.getByTestId("hello-fullname").filter({ hasText: /^Dev World$/ }).waitFor();
  await screenshot(page, "dev-helloworld");
  assertNoPageErrors(assert, page);
  await page.context().close();
});
