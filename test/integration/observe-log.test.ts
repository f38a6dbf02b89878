/**
 * Structured logs of a real transfer and a real RPC call (quinn, 127.0.0.1): both nodes run on
 * pino loggers (src/log/pino.ts). logTransfers (src/log/transfers.ts) adds a line per transfer
 * start and end, bound to the node, the peer and the transfer's own ID on each side; an RPC
 * call's request ID (src/rpc/callRecord.ts) rides in its request metadata, so the caller's
 * `rpc.call` line and the callee's `rpc.served` line carry the same `call`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createPinoLogger } from '../../src/log/pino.js';
import { logTransfers } from '../../src/log/transfers.js';
import type { OctopiiNode } from '../../src/node.js';
import { NodePool, tempDir } from '../helpers/laneFixtures.js';
import { kv, kvHandlers } from '../helpers/rpcFixtures.js';

const SIZE = 1024 * 1024 + 5;

type Line = Record<string, unknown>;

describe('transfer and call log lines', () => {
  let root: string;
  let pool: NodePool;
  let receiver: OctopiiNode;
  let sender: OctopiiNode;
  const lines: Line[] = [];
  const senderLines: Line[] = [];

  beforeAll(async () => {
    root = await tempDir('octopii-observe-log-');
    pool = new NodePool(root);
    const logger = createPinoLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const senderLogger = createPinoLogger({ level: 'debug', destination: { write: (s: string) => void senderLines.push(JSON.parse(s)) } });
    receiver = await pool.start({ transport: 'quinn', runtime: { logger } });
    sender = await pool.start({ transport: 'quinn', runtime: { logger: senderLogger } });
    const off = logTransfers(receiver, receiver.logger);
    const offSender = logTransfers(sender, sender.logger);
    const r = await sender.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(SIZE) });
    expect(r.success).toBe(true);
    receiver.serve(kv, kvHandlers(new Map([['k', 'v']])));
    expect(await sender.client(kv, { address: receiver.address, nodeId: receiver.nodeId }).get({ key: 'k' })).toEqual({ value: 'v' });
    const deadline = Date.now() + 10_000;
    while (!(lines.some((l) => l.event === 'transfer.finished') && senderLines.some((l) => l.event === 'transfer.finished')) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 20));
    }
    off();
    offSender();
  });

  afterAll(async () => {
    await pool?.stopAll();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("binds the node's ID to the node's own lines", () => {
    expect(lines.find((l) => l.event === 'listening')).toMatchObject({ nodeId: receiver.nodeId, level: 30 });
  });

  it('logs the transfer start with node, peer and transfer IDs', () => {
    expect(lines.find((l) => l.event === 'transfer.started')).toMatchObject({
      nodeId: receiver.nodeId,
      peer: `peer:${sender.nodeId}`,
      transfer: expect.stringMatching(new RegExp(`^peer:${sender.nodeId}/receive#\\d+$`)),
      direction: 'receive',
    });
  });

  it('logs the transfer end with its outcome and size', () => {
    const started = lines.find((l) => l.event === 'transfer.started')!;
    expect(lines.find((l) => l.event === 'transfer.finished')).toMatchObject({ transfer: started.transfer, outcome: 'acknowledged', bytes: SIZE, durationMs: expect.any(Number) });
  });

  it("carries the sender's own transfer ID on both of its lines", () => {
    const ids = senderLines.filter((l) => l.event === 'transfer.started' || l.event === 'transfer.finished').map((l) => [l.event, l.transfer, l.nodeId]);
    const id = ids[0]?.[1];
    expect([id, ids]).toEqual([
      expect.stringMatching(new RegExp(`^peer:${receiver.nodeId}/send#\\d+$`)),
      [
        ['transfer.started', id, sender.nodeId],
        ['transfer.finished', id, sender.nodeId],
      ],
    ]);
  });

  it("carries one request ID on the caller's and the callee's line of a call", () => {
    const made = senderLines.filter((l) => l.event === 'rpc.call' && l.method === 'kv.get');
    const served = lines.filter((l) => l.event === 'rpc.served' && l.method === 'kv.get');
    expect([made.length, served.length]).toEqual([1, 1]);
    expect(made[0]).toMatchObject({ nodeId: sender.nodeId, call: `${sender.nodeId.slice(-8)}-1`, peer: `peer:${receiver.nodeId}`, code: 'OK', level: 20 });
    expect(served[0]).toMatchObject({ nodeId: receiver.nodeId, call: made[0]!.call, peer: sender.nodeId, code: 'OK', level: 20 });
  });
});
