/// <reference types="vitest/config" />
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type Plugin } from "vite";

const VECTORS = join(import.meta.dirname, "..", "tests", "vectors");
const SELFTEST_ID = "virtual:selftest-vectors";

/**
 * The self-test page's fixed inputs, taken from the shared vectors at build time: one age file
 * (X25519) and one signed checkpoint. Only these few values enter the bundle, not the files.
 */
function selftestVectors(): Plugin {
  return {
    name: "camvault-selftest-vectors",
    resolveId: (id) => (id === SELFTEST_ID ? "\0" + SELFTEST_ID : null),
    load(id) {
      if (id !== "\0" + SELFTEST_ID) return null;
      const age = JSON.parse(readFileSync(join(VECTORS, "age.json"), "utf8"));
      const tlog = JSON.parse(readFileSync(join(VECTORS, "tlog.json"), "utf8"));
      const v = age.vectors.find((x: { name: string }) => x.name === "x25519_short");
      if (!v) throw new Error("age.json has no x25519_short vector");
      const c = tlog.checkpoint;
      const out = {
        age: { file_hex: v.file_hex, identity: v.identities[0], plaintext_sha256: v.plaintext_sha256 },
        checkpoint: {
          signed_note: c.signed_note,
          verifier_key: c.verifier_key,
          origin: c.origin,
          root_hex: c.root_hex,
          size: String(c.size),
        },
      };
      return `export default ${JSON.stringify(out)};`;
    },
  };
}

const TAG = /<(script|link)\b[^>]*>/g;

/**
 * Subresource Integrity: every script and stylesheet/modulepreload tag of the built index.html
 * gets integrity="sha384-..." of the file it loads (and crossorigin, without which the browser
 * would not check it for module scripts fetched in cors mode). A chunk loaded by a dynamic
 * import() could not carry a hash, so the build refuses to make one.
 */
function subresourceIntegrity(): Plugin {
  return {
    name: "camvault-sri",
    apply: "build",
    enforce: "post",
    generateBundle(_options, bundle) {
      for (const item of Object.values(bundle)) {
        if (item.type === "chunk" && item.isDynamicEntry) {
          this.error(`dynamic chunk ${item.fileName} cannot carry SRI; import it statically`);
        }
      }
    },
    writeBundle(options) {
      const dir = options.dir ?? "dist";
      const indexPath = join(dir, "index.html");
      const html = readFileSync(indexPath, "utf8");
      const out = html.replace(TAG, (tag) => {
        const url = /\s(?:src|href)="([^"]+)"/.exec(tag)?.[1];
        if (!url || /^[a-z][a-z0-9+.-]*:|^\/\//i.test(url)) {
          if (tag.startsWith("<script")) this.error(`script without a local src: ${tag}`);
          return tag;
        }
        if (tag.startsWith("<link") && !/\srel="(stylesheet|modulepreload)"/.test(tag)) return tag;
        const file = readFileSync(join(dir, url.replace(/^\.?\//, "")));
        const integrity = `sha384-${createHash("sha384").update(file).digest("base64")}`;
        let t = tag.replace(/\s+integrity="[^"]*"/, "");
        if (!/\scrossorigin\b/.test(t)) t = t.replace(/^<(script|link)/, "<$1 crossorigin");
        return t.replace(/^<(script|link)/, `<$1 integrity="${integrity}"`);
      });
      writeFileSync(indexPath, out);
    },
  };
}

export default defineConfig({
  // Relative asset URLs: dist/ works under whatever path the storage service serves it from.
  base: "./",
  plugins: [selftestVectors(), subresourceIntegrity()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // No inlined assets: CSS and images stay files under assets/ (img-src / style-src 'self').
    assetsInlineLimit: 0,
    // The bundle has no eval / new Function (checked in test/build.test.ts), so it runs under
    // a Content-Security-Policy of script-src 'self'.
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
  },
});
