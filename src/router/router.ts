/**
 * The stream router (DESIGN.md §1 "Peers and streams"): on a connection of octopii's own
 * protocol every stream starts with a kind preamble (src/wire/streamKind.ts); the router reads
 * it on each stream the peer opens and hands the rest of the stream to the handler registered
 * for that kind — `control` (hello and keep-alive), `lane` (Shipping Lane), later `rpc`, `raft`,
 * `route`, `blobs`. An unknown kind, a malformed preamble or one that does not arrive within
 * `preambleTimeoutMs` resets that stream with a typed error (UNKNOWN_KIND, PROTOCOL_ERROR,
 * TIMEOUT); the connection stays up.
 *
 *   const router = new StreamRouter({ clock });
 *   router.register('lane', (stream, ctx) => receive(stream, ctx.connection));
 *   conn.onStream((s) => router.dispatch(conn, s));
 *   const out = await router.open(conn, 'lane');     // preamble written, ready for the lane
 */
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { DuplexStream, PeerConnection } from '../transport/types.js';
import { decodeStreamPreamble, encodeStreamPreamble, KIND_PATTERN } from '../wire/streamKind.js';
import { prefixedStream } from './prefixedStream.js';

/** What a handler learns about a stream besides its bytes. */
export interface StreamContext {
  connection: PeerConnection;
  kind: string;
}

/** Takes a stream whose preamble was consumed; owns it from then on. */
export type StreamHandler = (stream: DuplexStream, context: StreamContext) => void;

/** Why a stream was refused (for logs and tests). */
export interface RefusedStream {
  connection: PeerConnection;
  kind: string | null;
  error: OctopiiError;
}

export interface StreamRouterOptions {
  clock: Clock;
  /** How long an accepted stream may take to deliver its preamble, ms (default 10,000). */
  preambleTimeoutMs?: number;
  /** Called for each refused stream. */
  onRefused?: (refused: RefusedStream) => void;
}

export class StreamRouter {
  readonly #handlers = new Map<string, StreamHandler>();
  readonly #clock: Clock;
  readonly #preambleTimeoutMs: number;
  readonly #onRefused: ((r: RefusedStream) => void) | undefined;

  constructor(options: StreamRouterOptions) {
    this.#clock = options.clock;
    this.#preambleTimeoutMs = options.preambleTimeoutMs ?? 10_000;
    this.#onRefused = options.onRefused;
  }

  /** Registers the handler of `kind`, replacing none: throws INVALID_ARGUMENT if `kind` is taken or invalid. */
  register(kind: string, handler: StreamHandler): () => void {
    if (!KIND_PATTERN.test(kind)) throw new OctopiiError('INVALID_ARGUMENT', `invalid stream kind ${JSON.stringify(kind)}`);
    if (this.#handlers.has(kind)) throw new OctopiiError('INVALID_ARGUMENT', `stream kind "${kind}" already has a handler`);
    this.#handlers.set(kind, handler);
    return () => {
      if (this.#handlers.get(kind) === handler) this.#handlers.delete(kind);
    };
  }

  /** Kinds with a handler (what the hello announces), sorted. */
  kinds(): string[] {
    return [...this.#handlers.keys()].filter((k) => k !== 'control').sort();
  }

  /** Opens a stream of `kind` on `connection` and writes its preamble. Throws the transport's errors. */
  async open(connection: PeerConnection, kind: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DuplexStream> {
    const preamble = encodeStreamPreamble(kind);
    const stream = await connection.openStream(options);
    const w = stream.writable.getWriter();
    try {
      await w.write(preamble);
    } catch (e) {
      stream.abort(e);
      throw toOctopiiError(e, 'STREAM_ABORTED');
    } finally {
      w.releaseLock();
    }
    return stream;
  }

  /** Reads the preamble of an accepted stream and hands it to its handler (or refuses it). Never throws. */
  dispatch(connection: PeerConnection, stream: DuplexStream): void {
    void this.#dispatch(connection, stream);
  }

  async #dispatch(connection: PeerConnection, stream: DuplexStream): Promise<void> {
    const reader = stream.readable.getReader();
    let kind: string | null = null;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(
        () => reject(new OctopiiError('TIMEOUT', `no stream preamble within ${this.#preambleTimeoutMs} ms`)),
        this.#preambleTimeoutMs,
      );
    });
    timeout.catch(() => undefined);
    try {
      let buf = new Uint8Array(0);
      let parsed: { kind: string; length: number } | null = null;
      while (!parsed) {
        const r = await Promise.race([reader.read(), timeout]);
        if (r.done) throw new OctopiiError('PROTOCOL_ERROR', 'stream ended before its kind preamble');
        const next = new Uint8Array(buf.byteLength + r.value.byteLength);
        next.set(buf);
        next.set(r.value, buf.byteLength);
        buf = next;
        parsed = decodeStreamPreamble(buf);
      }
      kind = parsed.kind;
      const handler = this.#handlers.get(kind);
      if (!handler) throw new OctopiiError('UNKNOWN_KIND', `this node serves no "${kind}" streams (serves: ${this.kinds().join(', ') || 'none'})`);
      this.#clock.clearTimeout(timer);
      handler(prefixedStream(stream, reader, buf.subarray(parsed.length)), { connection, kind });
    } catch (e) {
      this.#clock.clearTimeout(timer);
      const error = toOctopiiError(e, 'PROTOCOL_ERROR');
      this.#onRefused?.({ connection, kind, error });
      reader.cancel(error).catch(() => undefined);
      stream.abort(error);
    }
  }
}
