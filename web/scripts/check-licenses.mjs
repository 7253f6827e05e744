// Refuses any installed package (package-lock.json) whose licence is not MIT, Apache-2.0,
// BSD, ISC or MPL-2.0: the project's rule for everything it ships or runs (no copyleft tool or library).
import { readFileSync } from "node:fs";

const ALLOWED = new Set(["MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD", "MPL-2.0"]);
// Packages whose package.json names no licence but which ship one (checked by hand; the entry
// pins the version, so an update is checked again).
const READ_BY_HAND = new Map([["node_modules/dom-walk@0.1.2", "MIT"]]); // LICENCE file (mux.js -> global -> min-document)
const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8"));

const bad = [];
let count = 0;
for (const [path, meta] of Object.entries(lock.packages)) {
  if (path === "") continue;
  count++;
  // A lock entry carries the licence npm read from the package's own package.json.
  const licence = meta.license ?? READ_BY_HAND.get(`${path}@${meta.version}`) ?? "(none)";
  const terms = licence.replace(/[()]/g, "").split(/\s+OR\s+/);
  if (!terms.some((t) => ALLOWED.has(t.trim()))) bad.push(`${path}: ${licence}`);
}
if (bad.length > 0) {
  console.error(`licence check: ${bad.length} package(s) outside ${[...ALLOWED].join(", ")}:\n  ${bad.join("\n  ")}`);
  process.exit(1);
}
console.log(`licence check: ${count} packages, all ${[...ALLOWED].join(" / ")}`);
