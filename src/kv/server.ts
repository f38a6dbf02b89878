/**
 * `KvServer`: serves the `kv` stream kind on a member — writes are proposed through the
 * {@link RaftHost} and answered with their apply result, reads are linearizable (ReadIndex,
 * dissertation §6.4) and answered from the local {@link KvStateMachine}.
 *
 *   const sm = new KvStateMachine();
 *   const host = await RaftHost.open({ node, dir, self, members, stateMachine: sm });
 *   const server = new KvServer({ node, host, stateMachine: sm });
 *
 * Errors go back typed (`{ code, message }`, src/errors.ts); NOT_LEADER carries the leader's
 * member ID when this member knows it, so the client goes there next.
 */
import { OctopiiError, toOctopiiError, toWire } from '../errors.js';
import type { OctopiiNode } from '../node/node.js';
import { NotLeaderError } from '../raft/notLeader.js';
import type { RaftHost } from '../raft/raftNode.js';
import type { DuplexStream } from '../transport/types.js';
import { FrameReader } from '../wire/raft.js';
import { CoalescingWriter } from './coalesce.js';
import { encodeKvCommand, type KvResult, type KvStateMachine } from './stateMachine.js';
import { decodeKvRequest, encodeKvFrame, MAX_KV_FRAME_BYTES, type KvRequest, type KvResponse } from './wire.js';

export interface KvServerOptions {
  node: OctopiiNode;
  host: RaftHost<KvResult>;
  stateMachine: KvStateMachine;
  /** How long a write or read may wait for its commit / read point, ms (default 3,000). */
  timeoutMs?: number;
}

export class KvServer {
  readonly #unregister: () => void;
  readonly #streams = new Set<DuplexStream>();

  constructor(readonly options: KvServerOptions) {
    this.#unregister = options.node.router.register('kv', (stream) => void this.#serve(stream));
  }

  async #serve(stream: DuplexStream): Promise<void> {
    this.#streams.add(stream);
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const frames = new FrameReader(MAX_KV_FRAME_BYTES);
    const out = new CoalescingWriter(writer, () => stream.abort());
    const reply = (r: KvResponse) => out.write(encodeKvFrame(r));
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        for (const body of frames.push(r.value)) {
          const req = decodeKvRequest(body);
          void this.handle(req).then(reply);
        }
      }
    } catch {
      // reset or malformed: drop the stream
    } finally {
      this.#streams.delete(stream);
      stream.abort();
    }
  }

  /** Answers one request (also usable in-process). Never throws. */
  async handle(req: KvRequest): Promise<KvResponse> {
    const { host, stateMachine } = this.options;
    const timeoutMs = this.options.timeoutMs ?? 3000;
    try {
      switch (req.t) {
        case 'status':
          return { i: req.i, r: { ...host.status(), progress: undefined } };
        case 'get': {
          if (typeof req.k !== 'string') throw new OctopiiError('BAD_INPUT', 'kv get: k must be a string');
          await host.linearizableRead({ timeoutMs });
          return { i: req.i, r: { value: stateMachine.get(req.k) } };
        }
        default: {
          if (typeof req.c !== 'string' || !Number.isSafeInteger(req.s) || typeof req.k !== 'string') throw new OctopiiError('BAD_INPUT', 'kv write: c, s and k are required');
          const base = { c: req.c, s: req.s!, k: req.k };
          let cmd: Uint8Array;
          if (req.t === 'put') {
            if (typeof req.v !== 'string') throw new OctopiiError('BAD_INPUT', 'kv put: v must be a string');
            cmd = encodeKvCommand({ ...base, t: 'put', v: req.v });
          } else if (req.t === 'del') {
            cmd = encodeKvCommand({ ...base, t: 'del' });
          } else {
            if (typeof req.v !== 'string' || (req.e !== null && typeof req.e !== 'string')) throw new OctopiiError('BAD_INPUT', 'kv cas: v must be a string, e a string or null');
            cmd = encodeKvCommand({ ...base, t: 'cas', e: req.e, v: req.v });
          }
          const r = await host.propose(cmd, { timeoutMs });
          return { i: req.i, r };
        }
      }
    } catch (e) {
      const err = toOctopiiError(e, 'INTERNAL');
      const out: KvResponse = { i: req.i, err: toWire(err) };
      if (e instanceof NotLeaderError && e.leaderHint !== undefined) out.l = e.leaderHint;
      return out;
    }
  }

  close(): void {
    this.#unregister();
    for (const s of this.#streams) s.abort();
    this.#streams.clear();
  }
}
