// Assertions shared by the end-to-end tests.

import assert from "node:assert/strict";
import { takeConsoleErrors } from "./client.mjs";

/** Asserts that every view model's next response is exactly expected. */
export async function allReceive(vms, expected) {
  const got = await Promise.all(vms.map((vm) => vm.nextResponse()));
  got.forEach((data, i) => assert.deepEqual(data, expected, `${vms[i].label()} got a different frame`));
}

/** Asserts value is a number, string or null as the demo's example values are. */
export function assertShape(value, shape, what) {
  switch (shape) {
    case "string?":
      assert.ok(value === null || typeof value === "string", `${what}: want a string or null, got ${JSON.stringify(value)}`);
      break;
    case "nonempty":
      assert.ok(typeof value === "string" && value.length > 0, `${what}: want a non-empty string, got ${JSON.stringify(value)}`);
      break;
    case "int":
      assert.ok(Number.isInteger(value), `${what}: want an integer, got ${JSON.stringify(value)}`);
      break;
    case "unit":
      assert.ok(typeof value === "number" && value >= 0 && value < 1, `${what}: want a number in [0, 1), got ${JSON.stringify(value)}`);
      break;
    default:
      throw new Error(`unknown shape ${shape}`);
  }
}

/** Asserts the clients saw no client-side errors: none logged by dotnetify, none thrown in socket listeners. */
export function assertNoClientErrors(clients) {
  assert.deepEqual(takeConsoleErrors(), [], "dotnetify logged errors");
  for (const c of clients) {
    assert.deepEqual(
      c.unexpectedErrors().map(({ type, err }) => `${type}: ${err?.stack ?? err}`),
      [],
      `${c.name}: errors thrown inside socket listeners`,
    );
  }
}
