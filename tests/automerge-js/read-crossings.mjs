// Reads a checkpoint's crossing log (a file of `kampung export --automerge
// x/PEER/MONTH`) with the reference JavaScript implementation of Automerge,
// knowing only what docs/documents.md says of the format, and prints its
// crossings as JSON, in list order: one object each, with the fields of the
// table there. tests/documents.rs compares them with what the node reads.
//
//   node tests/automerge-js/read-crossings.mjs FILE
//
// Exits 1, saying why, on anything the description does not allow.

import { Automerge, fail, load, requireFile, str } from "./document.mjs";

requireFile("node read-crossings.mjs FILE (a crossing log from kampung export --automerge)");

function optional(value, what) {
  return value === undefined || value === null ? null : str(value, what);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const doc = load();
const checkpoint = str(doc.checkpoint, "checkpoint");
if (!Array.isArray(doc.crossings)) fail(`the log of ${checkpoint} has no crossings list`);

// Crossing format 2: one string, a JSON array of the fields in this order.
const FIELDS = [
  "format", "at", "nik", "verdict", "decision", "village", "found", "issued", "rule",
  "case", "officer_id", "officer", "note", "policy", "state", "basis", "explain",
];

function fromValue(text, i) {
  let a;
  try {
    a = JSON.parse(text);
  } catch (e) {
    fail(`crossing ${i} is a string but not JSON: ${e.message}`);
  }
  if (!Array.isArray(a) || a.length < FIELDS.length) fail(`crossing ${i} is not an array of ${FIELDS.length} fields`);
  if (!Number.isInteger(a[0]) || a[0] < 2) fail(`crossing ${i} has format ${a[0]}`);
  const c = Object.fromEntries(FIELDS.map((f, j) => [f, a[j]]));
  delete c.format;
  return c;
}

// Crossings logged before format 2: a map of the same fields, `at` a
// timestamp, heads 32 bytes (or hex text before that).
function fromMap(m, i) {
  if (!(m.at instanceof Date)) fail(`crossing ${i}: 'at' is not a timestamp`);
  const basis = {};
  for (const [doc, heads] of Object.entries(m.basis ?? {})) {
    basis[doc] = heads.map((h) => (h instanceof Uint8Array ? hex(h) : str(h, `crossing ${i} head`)));
  }
  const n = (v) => (v === undefined ? null : Number(v));
  return {
    at: m.at.getTime(),
    nik: str(m.nik, `crossing ${i} nik`),
    verdict: str(m.verdict, `crossing ${i} verdict`),
    decision: str(m.decision, `crossing ${i} decision`),
    village: optional(m.village, `crossing ${i} village`),
    found: optional(m.found, `crossing ${i} found`),
    issued: optional(m.issued, `crossing ${i} issued`),
    rule: optional(m.rule, `crossing ${i} rule`),
    case: optional(m.case, `crossing ${i} case`),
    officer_id: optional(m.officer_id, `crossing ${i} officer_id`),
    officer: optional(m.officer, `crossing ${i} officer`),
    note: optional(m.note, `crossing ${i} note`),
    policy: n(m.policy),
    state: n(m.state),
    basis,
    explain: optional(m.explain, `crossing ${i} explain`) ?? "",
  };
}

const out = doc.crossings.map((c, i) => {
  if (c instanceof Automerge.ImmutableString || typeof c === "string") return fromValue(c.toString(), i);
  if (typeof c === "object" && c !== null) return fromMap(c, i);
  fail(`crossing ${i} is neither a string nor a map`);
});
console.log(JSON.stringify(out));
