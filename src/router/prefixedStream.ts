/**
 * A {@link DuplexStream} whose readable first yields bytes that were already read off the
 * underlying stream (the rest of the chunk that carried the kind preamble), then the rest of
 * the underlying readable. The writable and `abort` are the underlying stream's own.
 */
import type { DuplexStream } from '../transport/types.js';

export function prefixedStream(
  stream: DuplexStream,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  prefix: Uint8Array | undefined,
): DuplexStream {
  let pending = prefix && prefix.byteLength > 0 ? prefix : undefined;
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        if (pending) {
          c.enqueue(pending);
          pending = undefined;
          return;
        }
        try {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        } catch (e) {
          c.error(e);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return {
    id: stream.id,
    readable,
    writable: stream.writable,
    abort: (reason?: unknown) => stream.abort(reason),
  };
}
