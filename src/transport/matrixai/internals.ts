/**
 * What octopii uses of @matrixai/quic 2.0.9 beyond its typed API (present in its JS, protected
 * in its .d.ts), in one place, plus the quiet logger it is given.
 */
import type QUICConnection from '@matrixai/quic/QUICConnection.js';
import type QUICStream from '@matrixai/quic/QUICStream.js';

/** The library logs through @matrixai/logger; we keep it quiet (errors reach callers typed). */
export const silentLogger = {
  info() {},
  debug() {},
  warn() {},
  error() {},
  getChild() {
    return silentLogger;
  },
};

// Library internals we rely on (present in 2.0.9's JS, protected in its .d.ts).
export interface QuicheConn {
  peerStreamsLeftBidi(): number;
  /** The negotiated ALPN protocol (empty before the handshake). */
  applicationProto(): Uint8Array;
}
export interface ConnectionInternals {
  conn: QuicheConn;
  streamMap: Map<number, QUICStream>;
  streamIdClientBidi: number;
  streamIdServerBidi: number;
  streamIdUsedClientBidi: number;
  streamIdUsedServerBidi: number;
  streamIdUsedSet: Set<number>;
}
export const internals = (c: QUICConnection) => c as unknown as ConnectionInternals;
export interface ConnectionMapInternals {
  serverConnections: ReadonlyMap<string, QUICConnection>;
  clientConnections: ReadonlyMap<string, QUICConnection>;
}
export interface SocketInternals {
  socket: import('node:dgram').Socket;
}

/** Host without IPv4-mapped-IPv6 wrapping (`::ffff:127.0.0.1` → `127.0.0.1`). */
export function plainHost(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m ? m[1]! : host;
}
