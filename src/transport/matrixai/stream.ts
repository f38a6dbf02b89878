/** One @matrixai/quic bidirectional stream: the library's own Web Streams, aborted with typed errors. */
import type QUICStream from '@matrixai/quic/QUICStream.js';
import { OctopiiError } from '../../errors.js';
import type { DuplexStream } from '../types.js';

/** A QUIC bidirectional stream; `readable`/`writable` are the library's own Web Streams. */
export class MatrixaiStream implements DuplexStream {
  readonly id: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  constructor(private readonly quic: QUICStream) {
    this.id = quic.streamId;
    this.readable = quic.readable as unknown as ReadableStream<Uint8Array>;
    this.writable = quic.writable as unknown as WritableStream<Uint8Array>;
    // Stream handlers are async; a failure there would otherwise become an uncaught exception.
    quic.addEventListener('EventError', () => {});
  }
  abort(reason?: unknown): void {
    const msg = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
    cancelStream(this.quic, new OctopiiError('STREAM_ABORTED', `stream aborted: ${msg}`, { cause: reason }));
  }
}

export function cancelStream(s: QUICStream, reason: OctopiiError): void {
  try {
    s.cancel(reason);
  } catch {
    // Already shut down in quiche: nothing left to cancel.
  }
}
