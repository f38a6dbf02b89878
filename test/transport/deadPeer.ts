/**
 * Dead-peer detection at the QUIC level, shared by the QUIC transports' test files: a peer
 * process (test/transport/silentPeer.ts) is killed with SIGKILL while a stream to it has a read
 * pending and a write stopped at its flow-control window. With the default keep-alive (1 s) and
 * idle timeout (4 s), the connection must close with an OctopiiError in under 5 s, the pending
 * read and write must reject, and `close()` afterwards must not wait on the vanished peer.
 * Every wait is on an event, bounded; the measured times are printed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Transport } from '../../src/transport/types.js';
import { OctopiiError } from '../../src/errors.js';
import { closed } from './contract.js';

const PEER = fileURLToPath(new URL('./silentPeer.ts', import.meta.url));

/** Rejects if `p` does not settle within `ms`; resolves with how it settled. */
function settleWithin<T>(p: Promise<T>, ms: number, what: string): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Starts the silent peer; resolves with its address, node ID and a wait for its n-th stream. */
async function startPeer(kind: 'quinn' | 'matrixai', children: Set<ChildProcess>) {
  const child = spawn(process.execPath, ['--import', 'tsx', PEER, kind], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: Record<string, unknown>[] = [];
  let wake: () => void = () => {};
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    wake();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const waitLine = (pred: (l: Record<string, unknown>) => boolean, what: string) =>
    settleWithin(
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit) resolve(hit);
          else if (child.exitCode !== null) reject(new Error(`peer exited before ${what}: ${stderr}`));
          else wake = check;
        };
        check();
      }),
      60_000,
      what,
    ).then((r) => {
      if (!r.ok) throw r.error;
      return r.value;
    });
  const hello = await waitLine((l) => typeof l.address === 'string', 'its listening line');
  return { child, exited, address: String(hello.address), nodeId: String(hello.nodeId), waitLine };
}

export function deadPeerSuite(kind: 'quinn' | 'matrixai', create: () => Promise<Transport>): void {
  describe(`${kind}: a peer killed with SIGKILL`, () => {
    const children = new Set<ChildProcess>();
    let transports: Transport[] = [];
    afterEach(async () => {
      for (const c of children) c.kill('SIGKILL');
      children.clear();
      await Promise.all(transports.map((t) => t.close()));
      transports = [];
    });

    it('closes the connection within 5 s; the pending read and write reject; close() is bounded', async () => {
      const peer = await startPeer(kind, children);
      const client = await create();
      transports.push(client);
      const conn = await client.dial(peer.address, { expectedNodeId: peer.nodeId });
      const onClose = closed(conn, 15_000);
      const s = await conn.openStream();
      const writer = s.writable.getWriter();
      await writer.write(Uint8Array.of(1));
      await peer.waitLine((l) => l.stream === 1, 'the stream at the peer');
      const reader = s.readable.getReader();
      const pendingRead = reader.read();
      pendingRead.catch(() => {});
      // Write until the peer's flow-control window stops us (it never reads).
      const chunk = new Uint8Array(1 << 20);
      const pendingWrite = (async () => {
        for (;;) await writer.write(chunk);
      })();
      pendingWrite.catch(() => {});

      const killedAt = performance.now();
      peer.child.kill('SIGKILL');
      await peer.exited;
      const error = await onClose;
      const closeMs = performance.now() - killedAt;
      console.log(`${kind}: onClose ${closeMs.toFixed(0)} ms after SIGKILL (${error?.message})`);
      expect(error).toBeInstanceOf(OctopiiError);
      expect((error as OctopiiError).code).toBe('CONNECTION_CLOSED');
      expect(closeMs).toBeLessThan(5_000);
      expect(conn.closed).toBe(true);

      const read = await settleWithin(pendingRead, 2_000, 'the pending read');
      expect(read.ok).toBe(false);
      expect((read as { error: unknown }).error).toBeInstanceOf(OctopiiError);
      const write = await settleWithin(pendingWrite, 2_000, 'the pending write');
      expect(write.ok).toBe(false);
      expect((write as { error: unknown }).error).toBeInstanceOf(OctopiiError);

      const closingAt = performance.now();
      await settleWithin(client.close(), 3_000, 'transport close()');
      console.log(`${kind}: transport close() took ${(performance.now() - closingAt).toFixed(0)} ms`);
      expect(client.connections()).toHaveLength(0);
    }, 60_000);

    it('close() of a connection to a killed peer does not wait for it', async () => {
      const peer = await startPeer(kind, children);
      const client = await create();
      transports.push(client);
      const conn = await client.dial(peer.address, { expectedNodeId: peer.nodeId });
      const s = await conn.openStream();
      const writer = s.writable.getWriter();
      await writer.write(Uint8Array.of(1));
      await peer.waitLine((l) => l.stream === 1, 'the stream at the peer');
      const pendingWrite = (async () => {
        for (;;) await writer.write(new Uint8Array(1 << 20));
      })();
      pendingWrite.catch(() => {});
      peer.child.kill('SIGKILL');
      await peer.exited;
      // At once, before the idle timeout noticed anything.
      const closingAt = performance.now();
      await settleWithin(conn.close(), 3_000, 'connection close()');
      await settleWithin(client.close(), 3_000, 'transport close()');
      console.log(`${kind}: close() right after SIGKILL took ${(performance.now() - closingAt).toFixed(0)} ms`);
      expect((await settleWithin(pendingWrite, 2_000, 'the pending write')).ok).toBe(false);
    }, 60_000);
  });
}
