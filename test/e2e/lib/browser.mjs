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

/**
 * Opens the demo page in a fresh browser context (its own storage and socket,
 * like a separate browser) and collects the page's console errors.
 */
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.pageErrors = [];
  page.on("pageerror", (err) => page.pageErrors.push(err.message));
  await page.goto(url);
  return page;
}

/** Saves a full-page screenshot as test/artifacts/<name>.png and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
