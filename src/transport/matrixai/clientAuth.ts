/**
 * Client certificates on the seed's ALPN `octopii` under `insecure`.
 *
 * The seed's Rust Octopii client (quinn + rustls `with_no_client_auth`) presents no client
 * certificate. @matrixai/quic 2.0.9 cannot "request but not require" one: its native
 * `Config.withBoringSslCtx(verifyPeer, …)` sets BoringSSL's `SSL_VERIFY_PEER |
 * SSL_VERIFY_FAIL_IF_NO_PEER_CERT` (a client without a certificate gets the
 * `certificate_required` alert right after its Finished: its first stream write fails) or
 * `SSL_VERIFY_NONE` (no CertificateRequest at all); quiche's `Config.verifyPeer(true)` sets
 * `SSL_VERIFY_PEER` alone but also drops the callback that accepts self-signed certificates,
 * so every node certificate would then fail chain verification.
 *
 * What a connection asks for is chosen when it is made, though (the library builds one quiche
 * config per connection). So under `insecure` the server reads the ALPNs the client offers from
 * its Initial packet ({@link offeredAlpns}) and, for a client that offers `octopii` and not
 * `octopii/2` (a seed v1 client: it can only negotiate `lane-v1`), makes the connection without
 * a CertificateRequest: every such client is admitted with `remoteNodeId === null`, with or
 * without a certificate of its own (under `insecure` a v1 peer's certificate proves nothing
 * octopii uses: it is known by its address). Clients that offer `octopii/2` — octopii nodes —
 * still must present a certificate that proves a node ID. Without `insecure` nothing here is
 * installed: a client certificate stays mandatory on both ALPNs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { QUICServer } from '@matrixai/quic';
import { ALPN } from './alpn.js';
import { offeredAlpns } from './initial.js';

/** What of QUICServer 2.0.9 this relies on (present in its JS; `acceptConnection` is @internal). */
interface ServerInternals {
  config: Record<string, unknown>;
  acceptConnection(remoteInfo: unknown, header: unknown, dcid: unknown, data: Uint8Array): Promise<unknown>;
}

/** Whether a client offering `alpns` is a seed v1 client (it can only negotiate `lane-v1`). */
export function isLaneV1Only(alpns: readonly string[] | undefined): boolean {
  return alpns !== undefined && alpns.includes(ALPN['lane-v1']) && !alpns.includes(ALPN.octopii);
}

/**
 * Makes `server` (built with `verifyPeer: true` and a `verifyCallback`) accept the connections
 * of seed v1 clients without asking for a client certificate (see the module comment). Call
 * once, before `server.start()`, and only under `insecure`.
 */
export function admitLaneV1WithoutCertificate(server: QUICServer): void {
  const s = server as unknown as ServerInternals;
  const noRequest = new AsyncLocalStorage<true>();
  let config = s.config;
  // acceptConnection copies `this.config` into the new connection after its awaits (retry
  // token checks); the store follows it there.
  Object.defineProperty(s, 'config', {
    configurable: true,
    enumerable: true,
    get: () => (noRequest.getStore() ? { ...config, verifyPeer: false, verifyCallback: undefined } : config),
    set: (c: Record<string, unknown>) => {
      config = c;
    },
  });
  const accept = s.acceptConnection;
  s.acceptConnection = function (this: ServerInternals, remoteInfo, header, dcid, data) {
    return isLaneV1Only(offeredAlpns(data))
      ? noRequest.run(true, () => accept.call(this, remoteInfo, header, dcid, data))
      : accept.call(this, remoteInfo, header, dcid, data);
  };
}
