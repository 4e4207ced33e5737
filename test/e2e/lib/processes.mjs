// Starting and stopping the processes an end-to-end test needs: the local
// gateway (`bin/wsgate gateway`), the integration server (`bin/wsgate-server`)
// and `bin/wsgate dev`. Nothing here builds anything: scripts/test.sh builds
// the binaries and the page first. Readiness is always a printed line or a
// health check, never a fixed sleep.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

/** The repository root. */
export const repoRoot = path.resolve(import.meta.dirname, "../../..");

/** How long a process may take to become ready before the test fails. */
const readyTimeoutMs = 20_000;

/** How long a stopped process may take to exit before it is killed. */
const stopTimeoutMs = 10_000;

/** Returns the path of a binary in bin/, failing clearly when it was not built. */
export function binary(name) {
  const file = path.join(repoRoot, "bin", name);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: build it first (scripts/test.sh does: go build -o bin/${name} …)`);
  }
  return file;
}

// The kernel hands out ephemeral ports (for port-0 listeners such as the
// gateway, and for every outgoing connection) from this range. A port picked
// here for a process started later must lie outside it, or the kernel may give
// it to someone else in between.
function ephemeralRange() {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // Not Linux: use the IANA dynamic range.
  }
  return [49152, 65535];
}

function canListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * Returns a TCP port, below the kernel's ephemeral range, that is free on
 * 127.0.0.1 right now: for a process that must know its port before another
 * one starts (the server, whose address the gateway needs first).
 */
export async function freePort() {
  const [ephemeralLow] = ephemeralRange();
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow) - 1;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

// Children still running when the test process exits (a crashed test, an
// interrupted run) are killed, so no gateway or server outlives its test.
const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * A child process whose output is kept (for failure messages) and watched
 * line by line, so a test can wait for what the process prints.
 */
export class Proc {
  constructor(name, file, args, env) {
    this.name = name;
    this.output = [];
    this.lineWatchers = new Set();
    this.child = spawn(file, args, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        running.delete(this.child);
        resolve({ code, signal });
      });
    });
    this.exitStatus = null;
    this.exited.then((status) => {
      this.exitStatus = status;
      for (const w of this.lineWatchers) w.onExit(status);
    });
    this.#watch(this.child.stdout);
    this.#watch(this.child.stderr);
  }

  #watch(stream) {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop();
      for (const line of lines) this.#line(line);
    });
    stream.on("end", () => partial && this.#line(partial));
  }

  #line(line) {
    this.output.push(line);
    if (this.output.length > 400) this.output.shift();
    for (const w of this.lineWatchers) w.onLine(line);
  }

  /** The last lines the process printed, for error messages. */
  tail(n = 40) {
    return this.output.slice(-n).join("\n");
  }

  /** Resolves with the regexp match of the first line (already printed or new) that matches. */
  waitForLine(re, timeoutMs = readyTimeoutMs) {
    const seen = this.output.find((l) => re.test(l));
    if (seen) return Promise.resolve(re.exec(seen));
    return new Promise((resolve, reject) => {
      const watcher = {
        onLine: (line) => {
          const m = re.exec(line);
          if (m) finish(() => resolve(m));
        },
        onExit: (status) =>
          finish(() => reject(new Error(`${this.name} exited (${JSON.stringify(status)}) before printing ${re}:\n${this.tail()}`))),
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.name} did not print ${re} within ${timeoutMs} ms:\n${this.tail()}`))),
        timeoutMs,
      );
      const finish = (fn) => {
        clearTimeout(timer);
        this.lineWatchers.delete(watcher);
        fn();
      };
      this.lineWatchers.add(watcher);
      if (this.exitStatus) watcher.onExit(this.exitStatus);
    });
  }

  /** Stops the process with SIGTERM (SIGKILL if it hangs) and waits for it to exit. */
  async stop(signal = "SIGTERM") {
    if (this.exitStatus) return this.exitStatus;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), stopTimeoutMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }
}

/** Polls url until it answers 200, or fails after the deadline with the process's output. */
export async function waitForHealthy(url, proc, timeoutMs = readyTimeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (proc.exitStatus) {
      throw new Error(`${proc.name} exited (${JSON.stringify(proc.exitStatus)}) before ${url} was healthy:\n${proc.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not healthy within ${timeoutMs} ms (${last}):\n${proc.tail()}`);
}
