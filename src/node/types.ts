/**
 * The public shapes of a node (src/node/node.ts): what it is started with, how a peer is named,
 * and what it reports — received transfers, peer events, its peers and its actor tree.
 */
import type { ChildInfo } from '../../machines/node.js';
import type { NodeConfigInput } from '../config.js';
import type { ErrorInfo } from '../errors.js';
import type { Identity } from '../identity.js';
import type { LaneError } from '../lane/index.js';
import type { RpcOptions } from '../rpc/nodeRpc.js';
import type { Runtime } from '../runtime/types.js';
import type { ActorNode } from './inspect.js';

/** A peer to talk to: where it listens and, optionally, the node ID it must prove. */
export interface PeerRef {
  /** `host:port` (IPv6: `[::1]:4000`). */
  address: string;
  /** Refuse the peer unless it proves this node ID (docs/PROTOCOL.md "Peer verification"). */
  nodeId?: string;
}

/** One incoming transfer, verified or not (`octopii serve` prints these). */
export interface ReceivedEvent {
  ok: boolean;
  /** Sender's node ID, or its address when it has none (`insecure`). */
  peer: string;
  /** Size announced by the sender, bytes. */
  bytes: number;
  /** Hex SHA-256 of the data ('' when not verified). */
  sha256: string;
  /** Final path (file receive, success only): `<receiveDir>/<sha256>`. */
  file?: string;
  /** The data (memory receive, success only). */
  data?: Uint8Array;
  durationMs: number;
  error?: LaneError;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Inactivity timeout in ms (default 30,000); also bounds the connect (default 5,000). */
  timeoutMs?: number;
  onProgress?: (bytes: number) => void;
}

/** Keep-alive and reconnect settings of every peer actor. */
export interface PeerOptions {
  /** Idle time on a link before a ping, ms (default 1,000). */
  keepAliveMs?: number;
  /** An unanswered ping this long marks the peer dead, ms (default 2,500). */
  deadAfterMs?: number;
  /** Dial deadline including the hello, ms (default 5,000). */
  dialTimeoutMs?: number;
  /** Consecutive failed dials before a peer gives up (default 3). */
  maxRetries?: number;
  /** First redial delay, ms (default 200; doubles up to 5,000). */
  retryInitialMs?: number;
}

export interface NodeStartOptions extends Partial<NodeConfigInput> {
  /** Use this identity instead of the identity file. */
  identity?: Identity;
  /** Config file (JSON) read under the options and env vars. */
  configFile?: string;
  /** Clock, transport, hasher, logger (defaults: system clock, the configured QUIC transport, the shared hash pool, silent). */
  runtime?: Partial<Runtime>;
  peer?: PeerOptions;
  /** RPC limits and defaults (src/rpc/nodeRpc.ts). */
  rpc?: RpcOptions;
}

/** A peer came up, was lost (dead-peer detection, close) or could not be reached. */
export interface PeerEventInfo {
  type: 'peer.up' | 'peer.lost' | 'peer.unreachable';
  /** Peer actor id (`peer:<nodeId>`, …). */
  peer: string;
  error?: ErrorInfo;
}

/** What `node.peers()` lists. */
export interface PeerInfo {
  /** Peer actor id: `peer:<nodeId>`, `addr:<host:port>` (dialled without a node ID) or `v1:<host:port>` (a seed v1 peer). */
  id: string;
  nodeId: string | null;
  address: string | null;
  protocol: 'octopii' | 'lane-v1';
  /** Dotted state of the peer machine (`connected.alive`, `backoff`, `idle` …). */
  state: string;
  connected: boolean;
  /** Stream kinds the peer serves (from its hello), while connected. */
  kinds: string[];
  connects: number;
  losses: number;
  lastError: ErrorInfo | null;
  /** Transfers in flight with this peer. */
  transfers: number;
}

/** The inspection of a node: its actor tree plus the supervisor's record of its children. */
export interface NodeInspection {
  nodeId: string;
  address: string;
  transport: string;
  supervisor: string;
  children: Record<string, ChildInfo>;
  tree: ActorNode;
}
