/**
 * Public shapes of the Shipping Lane (seed 001: `ChunkSource`, `TransferResult`).
 */
import type { ErrorInfo } from '../errors.js';
import type { LaneStatus } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Hasher } from '../runtime/types.js';
import type { LaneSpawn } from './host.js';

/** Where the sender's bytes come from (seed 001 `ChunkSource`). */
export type LaneSource =
  /** Bytes already in memory; must not be modified while the transfer runs. */
  | { kind: 'memory'; data: Uint8Array }
  /** A file, streamed in large reads with a bounded read-ahead (constant memory). */
  | { kind: 'file'; path: string };

/**
 * A user-defined destination for received bytes (e.g. a blob store). `open(size)` is called
 * only after the size passed the cap; `write` calls are sequential, in order; a block holds
 * `blockBytes` (the last one fewer) and is never reused by the lane (the sink may keep it);
 * `commit` runs after the checksum matched; `discard` on any failure before `commit` — never after
 * it: committed data is kept even if the status byte could not be delivered.
 */
export interface LaneSinkHandle {
  write(block: Uint8Array): Promise<void>;
  /** `sha256`: hex digest of the verified data. */
  commit(sha256: string): Promise<void>;
  discard(): Promise<void>;
}

/** Where the receiver's bytes go. */
export type LaneSink =
  /** Collected in memory; `maxBytes` caps the announced size (default 64 MiB). */
  | { kind: 'memory'; maxBytes?: number }
  /**
   * Streamed to a temporary file next to `path` (`.<name>.<random>.part`), fsync'd, and renamed
   * to `path` only after the checksum matched; removed otherwise. Created only when the first
   * data byte arrives. Cap: `maxBytes` (default none).
   */
  | { kind: 'file'; path: string; maxBytes?: number }
  /**
   * Content-addressed: streamed to a temporary file in `dir`, fsync'd, and renamed to
   * `<dir>/<sha256 hex>` only after the checksum matched (iroh-blobs style); removed otherwise.
   * An existing file of that name has the same content and is never removed, whatever the
   * transfer does. Cap: `maxBytes` (default none).
   */
  | { kind: 'blob'; dir: string; maxBytes?: number }
  | { kind: 'custom'; open(size: number): Promise<LaneSinkHandle>; maxBytes?: number };

/** Plain error description carried in results (an OctopiiError's JSON; src/errors.ts). */
export type LaneError = ErrorInfo;

/** Outcome of one send (seed 001 `TransferResult`). Never thrown: failures are results. */
export interface TransferResult {
  /** The peer this transfer went to (caller-supplied label, e.g. node ID or `host:port`). */
  peer: string;
  /** True only if the receiver answered status 0 (stored and verified). */
  success: boolean;
  /** Data bytes written to the stream (on failure: as far as it got). */
  bytesTransferred: number;
  /** True only if the receiver confirmed the SHA-256 (status 0). */
  checksumVerified: boolean;
  /** Wall time of the transfer in ms. */
  durationMs: number;
  /** Hex SHA-256 of the data sent, once the whole source was read. */
  sha256?: string;
  error?: LaneError;
}

/** Outcome of one receive. Never thrown: failures are results. */
export interface ReceiveResult {
  success: boolean;
  /** Phase the receive machine ended in. */
  outcome: 'acknowledged' | 'rejected' | 'failed';
  /** Size announced by the header (0 if none was read). */
  bytes: number;
  /** Hex SHA-256 of the received data ('' if not computed). */
  sha256: string;
  /**
   * Final file path (file and blob sinks), once committed: on success, and also when the status
   * byte could not be delivered after the commit (the verified data is kept).
   */
  path?: string;
  /** The data (memory sink, success only). */
  data?: Uint8Array;
  /** Caller-supplied peer label. */
  peer?: string;
  /** Status byte sent to the sender; null if none could be sent. */
  status: LaneStatus | null;
  durationMs: number;
  error?: LaneError;
}

/** A hook to watch the lane machine's phase (dotted state value, e.g. `sending.streaming.paused`). */
export type LaneStateListener = (state: string) => void;

/** Options both sides take. */
interface LaneCommonOptions {
  /**
   * Ends the transfer at once: with the signal's reason when it is an OctopiiError (e.g.
   * UNAVAILABLE from dead-peer detection), else ABORTED.
   */
  signal?: AbortSignal;
  /**
   * SHA-256 hashers (src/runtime/types.ts). Default: the shared pool (src/hash/pool.ts
   * `sharedHashPool`), retained for the transfer and released after.
   */
  hasher?: Hasher;
  /**
   * Clock of the lane machine's timers (inactivity timeout, close grace) when it runs as a root
   * actor; a spawned actor uses its system's clock. Default: the system clock.
   */
  clock?: Clock;
  /**
   * Lane reasons (docs/PROTOCOL.md): after a non-zero status byte the receiver sends a reason
   * frame and the sender reports that error. Both sides must agree; only on octopii's own
   * protocol, never on the seed's v1 ALPN. Default false.
   */
  reasons?: boolean;
}

export interface SendLaneOptions extends LaneCommonOptions {
  /** Label recorded as `TransferResult.peer`. */
  peer?: string;
  /** Called with the running count of data bytes the stream accepted (every 4 MiB, and at the end). */
  onProgress?: (bytes: number) => void;
  /**
   * Inactivity timeout in ms (default 30,000): the transfer fails with TIMEOUT when no data
   * moves and no status arrives for this long.
   */
  timeoutMs?: number;
  /** Read/hash block size in bytes (default 1 MiB, min 256 KiB for hashing). */
  blockBytes?: number;
  /** Unacknowledged writes before the machine pauses the pump (default 4; read-ahead the same). */
  maxBlocksInFlight?: number;
  /** Observe the laneSend machine's phases. */
  onState?: LaneStateListener;
  /** Run the laneSend actor as a child of a supervisor (src/lane/host.ts); default: a root actor. */
  spawn?: LaneSpawn;
}

export interface ReceiveLaneOptions extends LaneCommonOptions {
  peer?: string;
  /** Largest accepted size in bytes; combined (min) with the sink's own cap. */
  maxBytes?: number;
  /** Inactivity timeout in ms (default 30,000) → TIMEOUT. */
  timeoutMs?: number;
  /**
   * Bytes per sink write (default 1 MiB): the network's chunks are gathered into batches of this
   * size, each written with one writev (a custom sink: one block), and hashed as they arrive.
   */
  blockBytes?: number;
  /** Blocks in flight to the sink before the pump pauses (default 4). */
  maxBlocksInFlight?: number;
  /** Called with the running count of data bytes written to the sink (every 4 MiB, and at the end). */
  onProgress?: (bytes: number) => void;
  onState?: LaneStateListener;
  /** Run the laneReceive actor as a child of a supervisor (src/lane/host.ts); default: a root actor. */
  spawn?: LaneSpawn;
}
