/**
 * The control channel of one connection of octopii's own protocol (docs/PROTOCOL.md "Hello and
 * keep-alive"): the first stream, opened by the dialling node, kind `control`. Both sides send
 * a hello first; the channel then answers every `ping` with a `pong` by itself (a reflex, not a
 * decision) and reports pongs, a `bye` and the end of the stream to its listener. When to ping
 * and when a silent peer counts as dead is decided by the peer machine (machines/peer.ts).
 *
 *   const { channel, hello } = await dialHello(conn, router, localHello, { clock, timeoutMs });
 *   channel.listen({ pong: (n) => …, bye: (why) => …, closed: (err) => … });
 *   channel.ping(1);
 */
import { OctopiiError, toOctopiiError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { DuplexStream, PeerConnection } from '../transport/types.js';
import {
  CONTROL_PROTOCOL_VERSION,
  decodeControlFrames,
  encodeControlFrame,
  type ControlMessage,
  type HelloMessage,
} from '../wire/control.js';
import type { StreamRouter } from './router.js';

export interface ControlListener {
  pong?(n: number): void;
  bye?(reason: string): void;
  /** The channel's stream ended or failed (`error` undefined after our own close). */
  closed?(error?: OctopiiError): void;
}

export class ControlChannel {
  readonly #stream: DuplexStream;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #listener: ControlListener = {};
  #buffered: ControlMessage[] = [];
  #rest: Uint8Array = new Uint8Array(0);
  #closed = false;
  #closeError: OctopiiError | undefined;
  #reading = false;

  constructor(stream: DuplexStream) {
    this.#stream = stream;
    this.#reader = stream.readable.getReader();
    this.#writer = stream.writable.getWriter();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one message. Rejects with the stream's error once the channel is closed. */
  async send(m: ControlMessage): Promise<void> {
    if (this.#closed) throw this.#closeError ?? new OctopiiError('CONNECTION_CLOSED', 'control channel closed');
    await this.#writer.write(encodeControlFrame(m));
  }

  ping(n: number): void {
    this.send({ t: 'ping', n }).catch(() => undefined);
  }

  /** Reads messages until `accept` returns a value (used for the hello), buffering none. */
  async readUntil<T>(accept: (m: ControlMessage) => T | undefined): Promise<T> {
    for (;;) {
      while (this.#buffered.length > 0) {
        const v = accept(this.#buffered.shift()!);
        if (v !== undefined) return v;
      }
      const r = await this.#reader.read();
      if (r.done) throw new OctopiiError('CONNECTION_CLOSED', 'control stream ended');
      this.#take(r.value);
    }
  }

  #take(chunk: Uint8Array): void {
    const buf = new Uint8Array(this.#rest.byteLength + chunk.byteLength);
    buf.set(this.#rest);
    buf.set(chunk, this.#rest.byteLength);
    const { messages, rest } = decodeControlFrames(buf);
    this.#rest = rest.slice();
    this.#buffered.push(...messages);
  }

  /** Starts the read loop: answers pings, reports pongs, bye and the end to `listener`. */
  listen(listener: ControlListener): void {
    this.#listener = listener;
    if (this.#reading) return;
    this.#reading = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      for (;;) {
        while (this.#buffered.length > 0) this.#handle(this.#buffered.shift()!);
        if (this.#closed) return;
        const r = await this.#reader.read();
        if (r.done) throw new OctopiiError('CONNECTION_CLOSED', 'control stream ended by the peer');
        this.#take(r.value);
      }
    } catch (e) {
      this.#finish(toOctopiiError(e, 'CONNECTION_CLOSED'));
    }
  }

  #handle(m: ControlMessage): void {
    switch (m.t) {
      case 'ping':
        this.send({ t: 'pong', n: m.n }).catch(() => undefined);
        return;
      case 'pong':
        this.#listener.pong?.(m.n);
        return;
      case 'bye':
        this.#listener.bye?.(m.reason);
        return;
      case 'hello':
        throw new OctopiiError('PROTOCOL_ERROR', 'second hello on the control stream');
    }
  }

  #finish(error?: OctopiiError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#listener.closed?.(error);
  }

  /** Queues `bye` (best effort, never waited for) and closes the stream. Idempotent. */
  async close(reason = 'closing'): Promise<void> {
    if (this.#closed) return;
    // Queued, not awaited: a peer that stopped reading (dead, or its window full) must not hold
    // a close up; the bye goes out ahead of the FIN if it can.
    this.send({ t: 'bye', reason }).catch(() => undefined);
    this.#finish();
    this.#writer.close().catch(() => undefined);
    this.#reader.cancel().catch(() => undefined);
  }

  /** Resets the stream at once. */
  abort(error: OctopiiError): void {
    this.#finish(error);
    this.#stream.abort(error);
  }
}

export interface HelloOptions {
  clock: Clock;
  /** Deadline for the whole exchange, ms (default 5,000) → HANDSHAKE_FAILED. */
  timeoutMs?: number;
}

/**
 * Checks a peer's hello: version, and the node ID against the one its TLS certificate proved
 * (`connection.remoteNodeId`; null for a peer without an identity, which our protocol refuses).
 * Throws HANDSHAKE_FAILED.
 */
export function checkHello(hello: HelloMessage, connection: PeerConnection): HelloMessage {
  if (hello.v !== CONTROL_PROTOCOL_VERSION) {
    throw new OctopiiError('HANDSHAKE_FAILED', `peer speaks control protocol version ${hello.v}, this node ${CONTROL_PROTOCOL_VERSION}`);
  }
  if (connection.remoteNodeId === null) {
    throw new OctopiiError('HANDSHAKE_FAILED', 'peer proved no node ID; octopii protocol needs one');
  }
  if (hello.nodeId !== connection.remoteNodeId) {
    throw new OctopiiError('HANDSHAKE_FAILED', `peer says it is ${hello.nodeId} but its certificate proves ${connection.remoteNodeId}`);
  }
  return hello;
}

async function withDeadline<T>(p: Promise<T>, clock: Clock, ms: number, what: string): Promise<T> {
  let timer: unknown;
  const t = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new OctopiiError('HANDSHAKE_FAILED', `${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clock.clearTimeout(timer);
  }
}

const helloOf = (m: ControlMessage): HelloMessage | undefined => {
  if (m.t === 'hello') return m;
  throw new OctopiiError('HANDSHAKE_FAILED', `expected hello, got ${m.t}`);
};

/**
 * One side of the hello on `stream`: the dialler sends first, the acceptor reads first. Throws
 * HANDSHAKE_FAILED (bad or missing hello, deadline) or the transport's errors; the stream is
 * reset on failure.
 */
async function exchangeHello(
  connection: PeerConnection,
  stream: DuplexStream,
  local: HelloMessage,
  options: HelloOptions,
  sendFirst: boolean,
): Promise<{ channel: ControlChannel; hello: HelloMessage }> {
  const channel = new ControlChannel(stream);
  try {
    if (sendFirst) await channel.send(local);
    const hello = checkHello(await withDeadline(channel.readUntil(helloOf), options.clock, options.timeoutMs ?? 5_000, 'hello'), connection);
    if (!sendFirst) await channel.send(local);
    return { channel, hello };
  } catch (e) {
    const err = toOctopiiError(e, 'HANDSHAKE_FAILED');
    channel.abort(err);
    throw err;
  }
}

/**
 * Dialling side: opens the control stream on `connection`, sends `local`, reads the peer's
 * hello. Throws HANDSHAKE_FAILED (bad or missing hello, deadline) or the transport's errors.
 */
export async function dialHello(
  connection: PeerConnection,
  router: StreamRouter,
  local: HelloMessage,
  options: HelloOptions,
): Promise<{ channel: ControlChannel; hello: HelloMessage }> {
  return exchangeHello(connection, await router.open(connection, 'control'), local, options, true);
}

/**
 * Accepting side: `stream` is the control stream the peer opened (preamble consumed); reads the
 * peer's hello, answers with `local`. Throws HANDSHAKE_FAILED.
 */
export async function acceptHello(
  connection: PeerConnection,
  stream: DuplexStream,
  local: HelloMessage,
  options: HelloOptions,
): Promise<{ channel: ControlChannel; hello: HelloMessage }> {
  return exchangeHello(connection, stream, local, options, false);
}
