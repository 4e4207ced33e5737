// The whole local system for one test: the local gateway in front of the
// integration server, each on its own free port, with the same contracts as
// docs/architecture.md (template, stage, credentials, env vars).

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Proc, binary, freePort, repoRoot, waitForHealthy } from "./processes.mjs";

/** The local gateway's default credentials (docs/architecture.md). */
export const localCredentials = {
  AWS_ACCESS_KEY_ID: "AKIAWSGATELOCAL00000",
  AWS_SECRET_ACCESS_KEY: "wsgate-local-secret",
  AWS_REGION: "us-east-1",
};

/**
 * dotNetify's own published template (no Stage resource, so it is served under
 * --stage prod): the Go server must work behind it as well as behind ours.
 */
export const dotnetifyTemplate = {
  path: path.join(repoRoot, "test", "e2e", "testdata", "dotnetify-cloudformation-template.yaml"),
  stage: "prod",
};

/**
 * The template the gateway serves by default: WSGATE_E2E_TEMPLATE (with
 * WSGATE_E2E_STAGE), or the synthesized cdk.out/WsgateStack.template.json
 * (scripts/test.sh synthesizes it).
 */
export function defaultTemplate() {
  const file = process.env.WSGATE_E2E_TEMPLATE ?? path.join(repoRoot, "cdk.out", "WsgateStack.template.json");
  return { path: file, stage: process.env.WSGATE_E2E_STAGE };
}

function templateArgs({ path: file, stage }, secret) {
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: synthesize the stack first (npx cdk synth) or set WSGATE_E2E_TEMPLATE`);
  }
  const secrets = secretIds(file).flatMap((id) => ["--secret", `${id}=${secret}`]);
  return ["--template", file, ...(stage ? ["--stage", stage] : []), ...secrets];
}

/**
 * The logical ids of the Secrets Manager secrets a JSON template's dynamic
 * references name ({{resolve:secretsmanager:…}}, joined with a Ref as CDK
 * writes it): the gateway needs a value for each, as CloudFormation would
 * resolve them. A YAML template (dotNetify's) has none.
 */
export function secretIds(file) {
  if (!file.endsWith(".json")) return [];
  const ids = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const next = v[i + 1];
        if (typeof item === "string" && item.endsWith("{{resolve:secretsmanager:") && next?.Ref) ids.add(next.Ref);
        walk(item);
      });
    } else if (v && typeof v === "object") {
      Object.values(v).forEach(walk);
    }
  };
  walk(JSON.parse(readFileSync(file, "utf8")));
  return [...ids];
}

/**
 * Starts `wsgate gateway` on addr (127.0.0.1:0 = any free port) in front of
 * backend, and resolves once it has printed its URLs.
 */
export async function startGateway({ backend, addr = "127.0.0.1:0", template = defaultTemplate(), secret, env = {} }) {
  const proc = new Proc(
    "gateway",
    binary("wsgate"),
    ["gateway", ...templateArgs(template, secret), "--backend", backend, "--addr", addr],
    env,
  );
  try {
    const [, websocketUrl] = await proc.waitForLine(/^websocket: (ws:\/\/\S+)/);
    const [, callbackUrl] = await proc.waitForLine(/^callback: (http:\/\/\S+)/);
    const { host } = new URL(callbackUrl);
    return { proc, websocketUrl, callbackUrl, addr: host, adminUrl: `http://${host}/_wsgate` };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Starts the integration server on port, pushing to callbackUrl, and waits for /healthz. */
export async function startServer({ port, callbackUrl, env = {} }) {
  const proc = new Proc("server", binary("wsgate-server"), [], {
    ...localCredentials,
    WSGATE_CALLBACK_URL: callbackUrl,
    WSGATE_LISTEN_ADDR: `127.0.0.1:${port}`,
    ...env,
  });
  try {
    await waitForHealthy(`http://127.0.0.1:${port}/healthz`, proc);
    return proc;
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/**
 * Starts a gateway and a server wired to each other. The returned stack can
 * restart either process on the same address, which is what a client sees
 * when a gateway or a server task is replaced.
 */
export async function startStack({ template = defaultTemplate(), serverEnv: env = {} } = {}) {
  // The integration secret, as CloudFormation and ECS would hand it to the
  // integrations and the server: the server requires it whenever the
  // template's integrations send one.
  const secret = randomBytes(18).toString("base64url");
  const serverEnv = secretIds(template.path).length > 0 ? { WSGATE_INTEGRATION_SECRET: secret, ...env } : env;
  // Both ports are picked outside the kernel's ephemeral range, so a
  // restarted process gets its address back (see freePort).
  const serverPort = await freePort();
  const backend = `http://127.0.0.1:${serverPort}`;
  const gateway = await startGateway({ backend, template, secret, addr: `127.0.0.1:${await freePort()}` });
  let server;
  try {
    server = await startServer({ port: serverPort, callbackUrl: gateway.callbackUrl, env: serverEnv });
  } catch (err) {
    await gateway.proc.stop();
    throw err;
  }
  async function admin(method, what, body) {
    // The admin API requires its header on every call and a JSON content type on every POST.
    const res = await fetch(`${stack.gateway.adminUrl}/${what}`, {
      method,
      headers: {
        "x-wsgate-admin": "1",
        ...(method === "POST" ? { "content-type": "application/json" } : {}),
      },
      body: method === "POST" ? JSON.stringify(body ?? {}) : undefined,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${method} ${what} at the gateway's admin API: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  }

  const stack = {
    websocketUrl: gateway.websocketUrl,
    callbackUrl: gateway.callbackUrl,
    adminUrl: gateway.adminUrl,
    serverUrl: backend,
    gateway,
    server,

    /** Stops the server (SIGTERM) and starts a new one on the same port. */
    async restartServer() {
      await stack.server.stop();
      stack.server = await startServer({ port: serverPort, callbackUrl: stack.callbackUrl, env: serverEnv });
    },

    /** Kills the server (SIGKILL: no drain, state lost, sockets left open) and starts a new one on the same port. */
    async killServer() {
      await stack.server.stop("SIGKILL");
      stack.server = await startServer({ port: serverPort, callbackUrl: stack.callbackUrl, env: serverEnv });
    },

    /** Stops the gateway (SIGTERM): every client loses its connection. */
    async stopGateway() {
      await stack.gateway.proc.stop();
    },

    /** Starts a new gateway on the address of the first one. */
    async startGatewayAgain() {
      stack.gateway = await startGateway({ backend, addr: gateway.addr, template, secret });
    },

    /** Stops the gateway and starts a new one on the same address. */
    async restartGateway() {
      await stack.stopGateway();
      await stack.startGatewayAgain();
    },

    /** Closes every client socket at the gateway (its admin API), as a deployment does; returns how many. */
    async dropConnections() {
      const body = await admin("POST", "drop");
      return body.dropped;
    },

    /** Makes the gateway refuse the next count pushes (POSTs to @connections) with status (429 or 5xx). */
    async refusePushes(count, status) {
      await admin("POST", "faults", { status, count, methods: ["POST"] });
    },

    /** Lifts any fault set with refusePushes. */
    async clearFaults() {
      await admin("DELETE", "faults");
    },

    /** Stops the server and returns the push counters it logs on exit. */
    async stopServerForStats() {
      await stack.server.stop();
      const line = stack.server.output.find((l) => l.includes('"msg":"stopped"'));
      if (!line) throw new Error(`the server printed no "stopped" line:\n${stack.server.tail()}`);
      return JSON.parse(line);
    },

    /** Output of both processes, for failure messages. */
    logs() {
      return `--- gateway ---\n${stack.gateway.proc.tail()}\n--- server ---\n${stack.server.tail()}`;
    },

    async stop() {
      await Promise.all([stack.server.stop(), stack.gateway.proc.stop()]);
    },
  };
  return stack;
}
