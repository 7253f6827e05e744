// The unlocked session: key material in memory only, dropped on Lock or after inactivity.

export const IDLE_LOCK_MS = 10 * 60 * 1000;
const ACTIVITY = ["pointerdown", "keydown", "wheel", "touchstart"] as const;

/** The idle limit: IDLE_LOCK_MS, or shorter when the URL's hash says `idle=<seconds>` (the
 *  browser test uses it); it can never be made longer than the constant. */
export function idleLimitMs(hash: string): number {
  const q = hash.split("?")[1] ?? "";
  const s = Number(new URLSearchParams(q).get("idle"));
  return Number.isFinite(s) && s >= 1 ? Math.min(s * 1000, IDLE_LOCK_MS) : IDLE_LOCK_MS;
}

export class IdleTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #bump = (): void => this.#arm();

  constructor(
    readonly limitMs: number,
    readonly onIdle: () => void,
  ) {}

  start(): void {
    for (const ev of ACTIVITY) document.addEventListener(ev, this.#bump, { passive: true });
    this.#arm();
  }

  stop(): void {
    for (const ev of ACTIVITY) document.removeEventListener(ev, this.#bump);
    clearTimeout(this.#timer);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.stop();
      this.onIdle();
    }, this.limitMs);
  }
}
