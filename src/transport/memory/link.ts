import { OctopiiError } from '../../errors.js';
import type { ConnectionProtocol } from '../types.js';
import type { MemoryNetwork } from './network.js';
import type { StreamPair } from './streamPair.js';
import { MemoryConnection } from './connection.js';
import type { MemoryTransport } from './transport.js';

/** A connection between two transports: two {@link MemoryConnection} ends sharing the streams. */
export class Link {
  readonly client: MemoryConnection;
  readonly server: MemoryConnection;
  closed = false;
  readonly streams = new Set<StreamPair>();

  constructor(
    readonly network: MemoryNetwork,
    readonly id: number,
    clientT: MemoryTransport,
    serverT: MemoryTransport,
    readonly protocol: ConnectionProtocol,
  ) {
    this.client = new MemoryConnection(this, clientT, 'outbound');
    this.server = new MemoryConnection(this, serverT, 'inbound');
  }

  other(end: MemoryConnection): MemoryConnection {
    return end === this.client ? this.server : this.client;
  }

  /** Closes the link; `byEnd` closed it cleanly (its handlers get no error), the other end gets `error`. */
  terminate(error: OctopiiError, byEnd?: MemoryConnection): void {
    if (this.closed) return;
    this.closed = true;
    this.network.linkClosed(this);
    for (const s of this.streams) s.fail(error);
    this.streams.clear();
    this.client._closed(byEnd === this.client ? undefined : error);
    this.server._closed(byEnd === this.server ? undefined : error);
  }
}
