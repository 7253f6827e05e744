// Placeholder entry point: the customer portal and operator console (issue 15) are built on
// src/crypto/. This only proves the crypto core bundles for the browser.
import { merkle } from "./crypto/index";

const status = document.getElementById("status");
if (status) {
  status.textContent = `camvault web: crypto core loaded (empty tree ${merkle.EMPTY_ROOT_HEX.slice(0, 8)}…)`;
}
