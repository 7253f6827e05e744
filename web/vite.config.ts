/// <reference types="vitest/config" />
import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: dist/ works under whatever path the storage service serves it from.
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // The bundle has no eval / new Function (checked in test/build.test.ts), so it runs under
    // a Content-Security-Policy of script-src 'self'.
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
  },
});
