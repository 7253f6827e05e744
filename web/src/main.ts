// Placeholder entry point. The customer portal and operator console (issue 15) are built on
// src/crypto/; until then the page only proves that the whole crypto core bundles for the
// browser and runs there (no network request, no key material).
import * as crypto from "./crypto/index";

const status = document.getElementById("status");
if (status) {
  const modules = Object.keys(crypto).sort().join(", ");
  status.textContent = `crypto core loaded (${modules}); empty tree ${crypto.merkle.EMPTY_ROOT_HEX.slice(0, 8)}…`;
}
