// The shared checks can fail: axe finds an unlabelled field, the secret search finds a secret
// in each of the forms it claims to search. (A check that cannot fail would prove nothing.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertNoSecrets, axe, launch, openPage } from "./checks.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe("the shared browser checks", () => {
  it("axe fails on an input without a label and passes once it has one", async () => {
    const { context, page } = await openPage(browser);
    await page.setContent(`<!doctype html><html lang="en"><title>t</title><main><input type="text"></main></html>`);
    await assert.rejects(axe(page, "unlabelled"), /serious violations[\s\S]*label/);
    await page.setContent(
      `<!doctype html><html lang="en"><title>t</title><main><label for="x">Name</label><input id="x" type="text"></main></html>`,
    );
    await axe(page, "labelled");
    await context.close();
  });

  it("the secret search finds a secret in the URL, a header or the body, plain, base64 or hex", async () => {
    const secret = "AGE-SECRET-KEY-1EXAMPLEEXAMPLE";
    const req = (over) =>
      Promise.resolve({ url: "http://x/", method: "POST", headers: {}, body: Buffer.alloc(0), ...over });
    await assertNoSecrets([req({})], [secret]);
    const hits = [
      req({ url: `http://x/?k=${encodeURIComponent(secret)}` }),
      req({ headers: { authorization: Buffer.from(secret).toString("base64") } }),
      req({ body: Buffer.from(`{"k":"${Buffer.from(secret).toString("hex")}"}`) }),
      req({ body: Buffer.from(secret) }),
    ];
    for (const h of hits) await assert.rejects(assertNoSecrets([h], [secret]), /carries a secret/);
    const bytes = new Uint8Array(64).map((_, i) => i * 7);
    await assert.rejects(
      assertNoSecrets([req({ body: Buffer.from(Buffer.from(bytes).toString("base64url")) })], [bytes]),
      /carries a secret/,
    );
  });
});
