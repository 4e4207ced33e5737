// Serves the built demo page (examples/web/dist) with a config.json that
// points it at a given WebSocket URL, as `wsgate dev` does, for the tests that
// run the gateway and server as separate processes so they can restart them.

import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { repoRoot } from "./processes.mjs";

const distDir = path.join(repoRoot, "examples", "web", "dist");

const contentTypes = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

/**
 * Serves the demo page on a free port; resolves with {url, close}. The
 * config.json body can be replaced (configBody) or left out (null) to test
 * how the page copes.
 */
export function servePage(websocketUrl, { configBody = JSON.stringify({ websocketUrl }) } = {}) {
  if (!existsSync(path.join(distDir, "index.html"))) {
    throw new Error(`${distDir}/index.html is missing: build the page first (scripts/build-web.sh)`);
  }
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, "http://page").pathname);
    if (urlPath === "/config.json" && configBody !== null) {
      res.writeHead(200, { "content-type": contentTypes[".json"], "cache-control": "no-store" });
      res.end(configBody);
      return;
    }
    const file = path.join(distDir, urlPath === "/" ? "index.html" : urlPath);
    if (!file.startsWith(distDir + path.sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () =>
          new Promise((r) => {
            server.close(r);
            server.closeAllConnections();
          }),
      });
    });
  });
}
