// The published hashes of the web build: `build-hashes.txt` (committed, `sha256sum` format,
// one line per file of dist/, sorted) is what the web app's bytes must be for this commit.
//
//   node scripts/build-hashes.mjs --write   after `npm run build`: record them (commit the file)
//   node scripts/build-hashes.mjs --check   fail (one line, exit 1) if dist/ differs from them
//
// `make web` runs --check on every clean clone, so the build is shown reproducible (same
// package-lock.json, same sources -> same bytes, whatever the checkout's path), and the
// committed file is what `camvault web verify <url>` compares a served app with.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(WEB, "dist");
const FILE = join(WEB, "build-hashes.txt");

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

function current() {
  if (!existsSync(join(DIST, "index.html"))) {
    console.error("build-hashes: web/dist has no index.html: run `npm run build` first");
    process.exit(1);
  }
  return (
    files(DIST)
      .map((f) => relative(DIST, f).split(sep).join("/"))
      .sort()
      .map(
        (rel) =>
          `${createHash("sha256")
            .update(readFileSync(join(DIST, rel)))
            .digest("hex")}  ${rel}`,
      )
      .join("\n") + "\n"
  );
}

const mode = process.argv[2];
if (mode === "--write") {
  writeFileSync(FILE, current());
  console.log(`build-hashes: wrote ${relative(process.cwd(), FILE) || FILE}`);
} else if (mode === "--check") {
  const want = existsSync(FILE) ? readFileSync(FILE, "utf8") : "";
  const got = current();
  if (want !== got) {
    const w = new Set(want.split("\n"));
    const diff = got.split("\n").filter((l) => l && !w.has(l));
    console.error(
      `build-hashes: web/dist differs from web/build-hashes.txt (${diff.length} file(s), e.g. ${diff[0]?.split("  ")[1] ?? "a file removed"}): ` +
        "the build is not reproducible here, or the sources changed without `npm run build && node scripts/build-hashes.mjs --write`",
    );
    process.exit(1);
  }
  console.log(`build-hashes: dist/ matches build-hashes.txt (${got.trim().split("\n").length} files)`);
} else {
  console.error("usage: build-hashes.mjs --write | --check");
  process.exit(2);
}
