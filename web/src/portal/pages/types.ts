// The contract between the portal's shell (../app.ts: import, unlock, lock, navigation) and
// its pages. A page gets the unlocked session and returns its element; it owns everything
// inside that element. The shell calls `dispose` when the user leaves the page or the
// session locks, so a page that plays video, polls or holds decrypted bytes drops them.

import type { StorageClient } from "../api";
import type { KeyMaterial } from "../keyfile";

export interface PortalContext {
  /** Signed requests to the storage service (keyid customer:<site id>). */
  api: StorageClient;
  /** The key material, in memory only while unlocked. Never put any of it in a request. */
  keys: KeyMaterial;
  /** Show another page (e.g. the inbox links an access notice to the audit page). */
  navigate(pageId: string): void;
}

export interface PageView {
  element: HTMLElement;
  /** Stop timers, players and fetches; drop decrypted data. */
  dispose?(): void;
}

export interface Page {
  /** Stable id: the nav button is `#nav-<id>`, the page's root element `#page-<id>`. */
  id: string;
  /** The nav label and the page's heading. */
  title: string;
  render(ctx: PortalContext): PageView;
}
