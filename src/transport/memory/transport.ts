import { abortPromise } from '../../errors.js';
import { formatAddress, parseAddress } from '../address.js';
import type { DialOptions, ListenOptions, PeerConnection, Transport, TransportOptions } from '../types.js';
import { DEFAULT_DIAL_TIMEOUT_MS, err, canonical } from './shared.js';
import type { MemoryNetwork } from './network.js';
import type { MemoryConnection } from './connection.js';

/**
 * `Transport` over a {@link MemoryNetwork} (kind `memory`). Make it with
 * `network.transport({ identity, allowPeers? })`.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly nodeId: string;
  /** Listen address, or the ephemeral one given at the first dial. @internal */
  localAddress: string | undefined;
  /** @internal set by MemoryNetwork.crash / restart */
  _down = false;
  #listening: string | undefined;
  #closed = false;
  #connectionHandler: ((c: PeerConnection) => void) | undefined;
  readonly #pendingConnections: MemoryConnection[] = [];
  readonly #connections = new Set<MemoryConnection>();
  readonly #allow: ReadonlySet<string> | undefined;

  constructor(
    readonly network: MemoryNetwork,
    readonly options: TransportOptions,
  ) {
    this.nodeId = options.identity.nodeId;
    this.#allow = options.allowPeers && options.allowPeers.length > 0 ? new Set(options.allowPeers) : undefined;
    network.register(this);
  }

  get address(): string | undefined {
    return this.#listening;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Binds `address` on the network. Throws CLOSED, INVALID_ARGUMENT (bad or taken address, second call). */
  async listen(options: ListenOptions): Promise<{ address: string }> {
    if (this.#closed) throw err('CLOSED', 'transport is closed');
    if (this.#listening) throw err('INVALID_ARGUMENT', `already listening on ${this.#listening}`);
    const bound = this.network.bind(this, options.address, true);
    this.#listening = bound;
    this.localAddress = bound;
    return { address: bound };
  }

  /**
   * Opens a new connection to `address` (one per call; nothing is pooled). Throws
   * CONNECTION_REFUSED (nobody listens, or either node is down), CONNECT_TIMEOUT (partitioned;
   * after `timeoutMs`, default 5,000 ms, on the network clock), PEER_VERIFICATION_FAILED,
   * ABORTED, CLOSED, INVALID_ARGUMENT.
   */
  async dial(address: string, options: DialOptions = {}): Promise<PeerConnection> {
    if (this.#closed) throw err('CLOSED', 'transport is closed');
    if (options.signal?.aborted) throw err('ABORTED', 'dial aborted');
    const target = canonical(address);
    const attempt = this.#connect(target, options);
    const signal = options.signal;
    return signal ? Promise.race([attempt, abortPromise(signal)!]) : attempt;
  }

  async #connect(target: string, options: DialOptions): Promise<MemoryConnection> {
    await Promise.resolve(); // a dial always completes in a later promise job
    if (this.#closed) throw err('CLOSED', 'transport is closed');
    if (this.localAddress === undefined) {
      this.localAddress = this.network.bind(this, formatAddress(parseAddress(target).host, 0), false);
    }
    if (this._down) throw err('CONNECTION_REFUSED', `cannot dial ${target}: this node is down`);
    const server = this.network.listenerAt(target);
    if (!server || server.closed || server._down) throw err('CONNECTION_REFUSED', `nothing listens on ${target}`);
    if (server === this) throw err('CONNECTION_REFUSED', `dialled our own address ${target}`);
    if (this.network.partitioned(this, server)) await this.#timeOut(target, options);
    // Client-side verification.
    const expected = options.expectedNodeId;
    if (expected !== undefined && server.nodeId !== expected) {
      throw err('PEER_VERIFICATION_FAILED', `peer at ${target} is ${server.nodeId}, expected ${expected}`);
    }
    if (expected === undefined && this.#allow && !this.#allow.has(server.nodeId)) {
      throw err('PEER_VERIFICATION_FAILED', `peer ${server.nodeId} at ${target} is not in allowPeers`);
    }
    // Server-side verification.
    if (!server._admits(this.nodeId)) {
      throw err('PEER_VERIFICATION_FAILED', `peer at ${target} refused us: ${this.nodeId} is not in its allowPeers`);
    }
    if (options.signal?.aborted) throw err('ABORTED', 'dial aborted');
    const link = this.network.connect(this, server, options.protocol ?? this.options.dialProtocol ?? 'octopii');
    this.#connections.add(link.client);
    server._accept(link.server);
    return link.client;
  }

  /** Across a partition: nothing answers; fail after the dial timeout. */
  #timeOut(target: string, options: DialOptions): Promise<never> {
    const ms = options.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    return new Promise<never>((_, reject) => {
      const timer = this.network.clock.setTimeout(
        () => reject(err('CONNECT_TIMEOUT', `dial ${target} timed out after ${ms} ms`)),
        ms,
      );
      options.signal?.addEventListener(
        'abort',
        () => {
          this.network.clock.clearTimeout(timer);
          reject(err('ABORTED', 'dial aborted'));
        },
        { once: true },
      );
    });
  }

  /** @internal */
  _admits(nodeId: string): boolean {
    return !this.#allow || this.#allow.has(nodeId);
  }

  /** @internal */
  _accept(conn: MemoryConnection): void {
    this.#connections.add(conn);
    if (this.#connectionHandler) this.#connectionHandler(conn);
    else this.#pendingConnections.push(conn);
  }

  /** @internal */
  _forget(conn: MemoryConnection): void {
    this.#connections.delete(conn);
    const i = this.#pendingConnections.indexOf(conn);
    if (i >= 0) this.#pendingConnections.splice(i, 1);
  }

  onConnection(handler: (connection: PeerConnection) => void): void {
    this.#connectionHandler = handler;
    while (this.#pendingConnections.length > 0) handler(this.#pendingConnections.shift()!);
  }

  connections(): PeerConnection[] {
    return [...this.#connections];
  }

  /** Closes every connection (peers see CONNECTION_CLOSED) and frees the address; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#connections]) await c.close('transport closed');
    this.network.unregister(this);
  }
}
