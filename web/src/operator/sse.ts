// Server-sent events from a fetch body (the feed is a signed GET, which EventSource cannot
// send): the text/event-stream framing of the WHATWG HTML standard, as clients/api/sse.py reads it.

export interface SseEvent {
  event: string;
  data: string;
  id: string;
}

export async function* parseSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const stop = (): void => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", stop);
  let buf = "";
  let event = "";
  let data: string[] = [];
  let id = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal?.aborted) return;
      buf += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buf);
        if (m === null) break;
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === "") {
          if (data.length > 0) yield { event, data: data.join("\n"), id };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon === -1 ? line : line.slice(0, colon);
        let value2 = colon === -1 ? "" : line.slice(colon + 1);
        if (value2.startsWith(" ")) value2 = value2.slice(1);
        if (name === "event") event = value2;
        else if (name === "data") data.push(value2);
        else if (name === "id") id = value2;
      }
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    stop();
  }
}
