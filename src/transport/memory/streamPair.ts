import { OctopiiError } from '../../errors.js';
import type { DuplexStream } from '../types.js';
import { err } from './shared.js';
import type { Link } from './link.js';
import { Pipe, type Transit } from './pipe.js';
import type { MemoryConnection } from './connection.js';

/** Both directions of one stream; each connection end gets a {@link DuplexStream} view. */
export class StreamPair {
  /** opener → acceptor, acceptor → opener */
  readonly forward: Pipe;
  readonly backward: Pipe;
  readonly openerEnd: DuplexStream;
  readonly acceptorEnd: DuplexStream;

  constructor(
    readonly link: Link,
    readonly id: number,
    opener: MemoryConnection,
    onDone: (pair: StreamPair) => void,
  ) {
    const acceptor = link.other(opener);
    const hwm = link.network.highWaterMark;
    const sender = (from: MemoryConnection, to: MemoryConnection) => (chunk: Uint8Array) => {
      if (link.closed) throw err('CONNECTION_CLOSED', 'connection closed');
      link.network.deliver(link, from, to, id, chunk.byteLength);
    };
    const ended = () => {
      if (this.forward?.ended && this.backward?.ended) onDone(this);
    };
    const transit: Transit = { delayMs: () => link.network.delayOf(link), clock: link.network.clock };
    this.forward = new Pipe(hwm, sender(opener, acceptor), ended, transit);
    this.backward = new Pipe(hwm, sender(acceptor, opener), ended, transit);
    const abort = () => this.fail(err('STREAM_ABORTED', 'stream aborted'));
    this.openerEnd = { id, readable: this.backward.readable, writable: this.forward.writable, abort };
    this.acceptorEnd = { id, readable: this.forward.readable, writable: this.backward.writable, abort };
  }

  fail(error: OctopiiError): void {
    this.forward.fail(error);
    this.backward.fail(error);
  }
}
