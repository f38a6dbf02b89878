/**
 * The native quinn binding of `@chainsafe/libp2p-quic` (`@chainsafe/libp2p-quic-linux-x64-gnu`,
 * pinned exact): its minimal declarations (napi-rs ships no .d.ts), loading it once per process
 * with a chosen tokio thread count, and the key and address formats it speaks. The only file
 * that `require`s the binding (learned from ChainSafe/js-libp2p-quic, `rust/*.rs`).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { OctopiiError } from '../../errors.js';
import type { Identity } from '../../identity.js';
import { formatAddress } from '../address.js';

// Minimal declarations of the native binding (napi-rs; no .d.ts shipped). Only what we use.

export interface NativeConfig {
  privateKeyProto: Uint8Array;
  handshakeTimeout: number;
  maxIdleTimeout: number;
  keepAliveInterval: number;
  maxConcurrentStreamLimit: number;
  maxStreamData: number;
  maxConnectionData: number;
  receiveBufferSize: number;
  sendBufferSize: number;
}
export interface NativeQuinnConfig {
  readonly __brand?: 'QuinnConfig';
}
export interface NativeStream {
  /** Stream index (QUIC stream id >> 2). Uses try_lock: call only before any read/write. */
  id(): string;
  read(maxLen: number): Promise<Uint8Array | null>;
  write(data: Uint8Array): Promise<void>;
  finishWrite(): Promise<void>;
  resetWrite(): Promise<void>;
  stopRead(): Promise<void>;
}
export interface NativeConnection {
  inboundStream(): Promise<NativeStream>;
  outboundStream(): Promise<NativeStream>;
  abort(): void;
  remoteMultiaddr(): string;
}
export interface NativeServer {
  port(): number;
  inboundConnection(): Promise<NativeConnection>;
  abort(): Promise<void>;
}
export interface NativeClient {
  outboundConnection(ip: string, port: number): Promise<NativeConnection>;
  abort(): void;
}
export interface Binding {
  QuinnConfig: new (config: NativeConfig) => NativeQuinnConfig;
  Server: new (config: NativeQuinnConfig, ip: string, port: number) => NativeServer;
  Client: new (config: NativeQuinnConfig, family: 0 | 1) => NativeClient;
}

let binding: Binding | undefined;
/** Worker threads of the binding's tokio runtime, fixed when the binding loads (process-wide). */
let runtimeThreads: number | undefined;

/**
 * Loads the binding once per process. Its tokio runtime starts inside `require` with
 * `TOKIO_WORKER_THREADS` worker threads (default: one per CPU core), so `threads` can only be
 * chosen by the first load; it is passed through that variable and the variable is restored
 * afterwards. Throws INVALID_ARGUMENT when `TOKIO_WORKER_THREADS` is set but not a positive
 * integer (tokio would abort the whole process), when `threads` differs from the count of an
 * already loaded runtime, or when the binding cannot load on this platform.
 */
export function loadBinding(threads?: number): Binding {
  if (binding) {
    if (threads !== undefined && threads !== runtimeThreads) {
      throw new OctopiiError('INVALID_ARGUMENT', `the quinn runtime of this process already runs ${runtimeThreads} thread(s); quinnThreads (${threads}) must be set before the first quinn transport starts`);
    }
    return binding;
  }
  const env = process.env.TOKIO_WORKER_THREADS;
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    throw new OctopiiError('INVALID_ARGUMENT', `quinn runtime threads must be a positive integer (got ${threads})`);
  }
  if (threads === undefined && env !== undefined && !/^[1-9]\d*$/.test(env)) {
    throw new OctopiiError('INVALID_ARGUMENT', `TOKIO_WORKER_THREADS must be a positive integer (got "${env}"); the quinn binding's runtime would abort the process`);
  }
  try {
    if (threads !== undefined) process.env.TOKIO_WORKER_THREADS = String(threads);
    binding = createRequire(import.meta.url)('@chainsafe/libp2p-quic-linux-x64-gnu') as Binding;
  } catch (e) {
    throw new OctopiiError('INVALID_ARGUMENT', `the quinn transport needs @chainsafe/libp2p-quic-linux-x64-gnu (linux x64 glibc): ${(e as Error).message}`, { cause: e });
  } finally {
    if (env === undefined) delete process.env.TOKIO_WORKER_THREADS;
    else process.env.TOKIO_WORKER_THREADS = env;
  }
  runtimeThreads = threads ?? (env !== undefined ? Number(env) : availableParallelism());
  return binding;
}

/** Worker threads of this process's quinn runtime, or undefined before the first quinn transport. */
export function quinnRuntimeThreads(): number | undefined {
  return runtimeThreads;
}

/** libp2p PrivateKey protobuf of an Ed25519 identity: `08 01 12 40 ‖ seed(32) ‖ pub(32)`. */
export function privateKeyProto(identity: Identity): Uint8Array {
  if (identity.seed.length !== 32 || identity.publicKey.length !== 32) {
    throw new OctopiiError('INVALID_IDENTITY', 'Ed25519 seed and public key must be 32 bytes each');
  }
  const out = new Uint8Array(68);
  out.set([0x08, 0x01, 0x12, 0x40]);
  out.set(identity.seed, 4);
  out.set(identity.publicKey, 36);
  return out;
}

/**
 * Parses the binding's `remoteMultiaddr()` (`/ip4|ip6/<ip>/udp/<port>/quic-v1/p2p/<peerId>`).
 * Throws PEER_VERIFICATION_FAILED when it has no peer ID.
 */
export function parseRemoteMultiaddr(ma: string): { address: string; peerId: string } {
  const m = /^\/ip[46]\/([^/]+)\/udp\/(\d+)\/quic-v1\/p2p\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(ma);
  if (!m) throw new OctopiiError('PEER_VERIFICATION_FAILED', `unexpected peer address from quinn: ${ma}`);
  return { address: formatAddress(m[1]!, Number(m[2])), peerId: m[3]! };
}
