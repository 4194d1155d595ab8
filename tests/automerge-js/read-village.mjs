// Reads a village document exported by `kampung export --automerge` with
// the reference JavaScript implementation of Automerge, knowing only what
// docs/documents.md says of the format, and prints its residents as JSON:
// one object per resident, in NIK order, with the columns and cell text of
// `kampung export` (CSV). tests/documents.rs compares the two.
//
//   node tests/automerge-js/read-village.mjs FILE
//
// Exits 1, saying why, on anything the description does not allow.

import { Automerge, fail, load, requireFile, str } from "./document.mjs";

requireFile("node read-village.mjs FILE (a village document from kampung export --automerge)");

// `int` comes out as a number, `uint` as a BigInt.
function int(value, what) {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  fail(`${what} is ${typeof value}, not an int`);
}

function uint(value, what) {
  if (typeof value === "bigint" && value >= 0n) return value;
  fail(`${what} is ${typeof value}, not a uint`);
}

// Dates are Julian day numbers: day 2440588 is 1970-01-01; 0 means not known.
const UNIX_EPOCH_JDN = 2440588;
function day(jdn, what) {
  const n = int(jdn, what);
  if (n === 0) return "";
  const date = new Date((n - UNIX_EPOCH_JDN) * 86400000);
  if (Number.isNaN(date.getTime())) fail(`${what} ${n} is not a day`);
  return date.toISOString().slice(0, 10);
}

const doc = load();
const village = str(doc.village, "village");
if (!/^\d{2}\.\d{2}\.\d{2}\.\d{4}$/.test(village)) fail(`village '${village}' is not a village code`);
if (typeof doc.residents !== "object" || doc.residents === null) fail("no residents map");

// A record is a JSON array (format 2); records written before it are a map
// of the same fields. Both read as the map.
function record(value, at) {
  if (!(value instanceof Automerge.ImmutableString) && typeof value !== "string") return value;
  let a;
  try {
    a = JSON.parse(value.toString());
  } catch (e) {
    fail(`${at}: not JSON (${e.message})`);
  }
  if (!Array.isArray(a) || a.length < 13) fail(`${at}: not a record of 13 fields`);
  if (typeof a[0] !== "number" || a[0] < 2) fail(`${at}: record format ${a[0]}`);
  const num = (v, what) => {
    if (typeof v !== "number" || !Number.isInteger(v)) fail(`${at} ${what} is not a whole number`);
    return v;
  };
  return {
    name: a[1], sex: a[2], birth: num(a[3], "birth"), kk: a[4], dusun: a[5],
    rt: BigInt(num(a[6], "rt")), rw: BigInt(num(a[7], "rw")), status: a[8],
    moved_to: a[9], moved_on: num(a[10], "moved_on"), died_on: num(a[11], "died_on"),
    updated: new Date(num(a[12], "updated")),
  };
}

const residents = Object.keys(doc.residents)
  .sort()
  .map((nik) => {
    if (!/^\d{16}$/.test(nik)) fail(`resident key '${nik}' is not a NIK`);
    const at = `resident ${nik}`;
    const r = record(doc.residents[nik], at);
    const status = str(r.status, `${at} status`);
    if (!["active", "moved_out", "deceased"].includes(status)) fail(`${at}: status '${status}'`);
    const sex = str(r.sex, `${at} sex`);
    if (!["L", "P"].includes(sex)) fail(`${at}: sex '${sex}'`);
    if (!(r.updated instanceof Date)) fail(`${at}: updated is not a timestamp`);
    return {
      nik,
      full_name: str(r.name, `${at} name`),
      sex,
      birth_date: day(r.birth, `${at} birth`),
      family_card: str(r.kk, `${at} kk`),
      dusun: str(r.dusun, `${at} dusun`),
      rt: uint(r.rt, `${at} rt`).toString(),
      rw: uint(r.rw, `${at} rw`).toString(),
      village_code: village,
      status,
      // Absent fields read as empty (a new record leaves them out).
      moved_to: r.moved_to === undefined ? "" : str(r.moved_to, `${at} moved_to`),
      moved_on: r.moved_on === undefined ? "" : day(r.moved_on, `${at} moved_on`),
      died_on: r.died_on === undefined ? "" : day(r.died_on, `${at} died_on`),
    };
  });
process.stdout.write(JSON.stringify(residents, null, 1) + "\n");
