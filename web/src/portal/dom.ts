// A tiny DOM builder: text always goes in as text nodes (no innerHTML anywhere), attributes
// as attributes (never `style`: the CSP has no 'unsafe-inline' for styles).

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

export function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  input.id = id;
  const lab = h("label", { for: id }, label);
  if (!hint) return h("div", { class: "field" }, lab, input);
  const hintId = `${id}-hint`;
  input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, lab, input, h("p", { class: "hint", id: hintId }, hint));
}

export function fmtTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function fmtSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
