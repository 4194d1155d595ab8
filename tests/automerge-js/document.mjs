// What read-village.mjs and read-crossings.mjs share: the file named on the
// command line, loaded with the reference JavaScript implementation of
// Automerge, and how a reader says what is wrong with it.

import { readFileSync } from "node:fs";
import * as Automerge from "@automerge/automerge";

export { Automerge };

// The file named on the command line, or the usage and exit 2.
export const file = process.argv[2];
export function requireFile(usage) {
  if (!file) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
}

// Exit 1, saying what is wrong with the file.
export function fail(message) {
  console.error(`${file}: ${message}`);
  process.exit(1);
}

// Scalar strings (Automerge `str`, not collaborative text) come out of
// automerge-js 3 as ImmutableString; anything else where a string is
// expected is a fault of the document.
export function str(value, what) {
  if (value instanceof Automerge.ImmutableString) return value.toString();
  if (typeof value === "string") return value;
  fail(`${what} is ${typeof value}, not a string`);
}

// The document in the file.
export function load() {
  try {
    return Automerge.load(new Uint8Array(readFileSync(file)));
  } catch (e) {
    fail(`not an Automerge document: ${e.message}`);
  }
}
