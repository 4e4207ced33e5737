// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven
// by playwright-core (which never downloads a browser of its own).

import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { repoRoot } from "./processes.mjs";

/** Where screenshots go; scripts keep this directory out of git. */
export const artifactsDir = path.join(repoRoot, "test", "artifacts");

const executablePath = process.env.WSGATE_E2E_CHROMIUM ?? "/usr/bin/chromium";

/** Starts headless Chromium with the flags the project uses everywhere. */
export function launchChromium() {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Runs in the page before its own scripts: keeps every uncaught error and
// unhandled rejection as the value itself (JSON for a plain object, which the
// DevTools protocol would only call "Object"), where it was thrown, its stack
// when it has one, and whether a page handler silenced it (preventDefault).
function recordThrownValues() {
  const describe = (value) => {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  };
  const report = (kind, event, value, where) => {
    // Let the page's own handlers run first, then see if one silenced it.
    setTimeout(() => {
      window.__wsgateReportThrown?.({
        kind,
        value: describe(value),
        where,
        stack: value instanceof Error ? value.stack : "",
        silenced: event.defaultPrevented,
      });
    });
  };
  window.addEventListener("error", (event) => {
    report("uncaught", event, event.error, `${event.filename}:${event.lineno}:${event.colno}`);
  });
  window.addEventListener("unhandledrejection", (event) => {
    report("unhandled rejection", event, event.reason, "");
  });
}

/**
 * Opens the demo page in a fresh browser context (its own storage and socket,
 * like a separate browser) and collects what goes wrong in it:
 * `page.pageErrors` has one line per uncaught error (its message, or the
 * thrown value itself when it is not an Error); `page.errorReport()` adds the
 * thrown values, where they were thrown, their stacks and the page's console
 * errors, for the message of a failing assertion.
 */
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.pageErrors = [];
  const details = [];
  const consoleErrors = [];
  const thrown = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const at = msg.location();
    consoleErrors.push(`${msg.text()}${at?.url ? ` (${at.url}:${at.lineNumber}:${at.columnNumber})` : ""}`);
  });
  page.on("pageerror", (err) => {
    const what = err.message || String(err);
    page.pageErrors.push(what);
    details.push(`${err.name ? `${err.name}: ` : ""}${what}${err.stack ? `\n${err.stack}` : ""}`);
  });
  await page.exposeFunction("__wsgateReportThrown", (record) => thrown.push(record));
  await page.addInitScript(recordThrownValues);
  page.errorReport = () =>
    [
      `page ${page.url()}`,
      ...details.map((d) => `pageerror: ${d}`),
      ...thrown.map(
        (t) =>
          `thrown (${t.kind}${t.silenced ? ", silenced by the page" : ""}): ${t.value}${t.where ? ` at ${t.where}` : ""}${t.stack ? `\n${t.stack}` : ""}`,
      ),
      ...consoleErrors.map((c) => `console.error: ${c}`),
    ].join("\n");
  await page.goto(url);
  return page;
}

/**
 * Asserts the page had no uncaught errors; a failure's message carries what
 * was thrown, where, the page's console errors and, when given, more context
 * (such as the stack's process logs).
 */
export function assertNoPageErrors(assert, page, context = () => "") {
  const what = "uncaught errors in the page";
  if (page.pageErrors.length === 0) return assert.deepEqual(page.pageErrors, [], what);
  const more = context();
  assert.deepEqual(page.pageErrors, [], `${what}\n${page.errorReport()}${more ? `\n${more}` : ""}`);
}

/** Saves a full-page screenshot as test/artifacts/<name>.png and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
