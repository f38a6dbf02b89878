/**
 * Structured logs of a real transfer (quinn, 127.0.0.1): the receiving node runs on a pino
 * logger (src/log/pino.ts) and logTransfers (src/log/transfers.ts) adds a line per transfer
 * start and end, bound to the node, the peer and the transfer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createPinoLogger } from '../../src/log/pino.js';
import { logTransfers } from '../../src/log/transfers.js';
import type { OctopiiNode } from '../../src/node.js';
import { NodePool, tempDir } from '../helpers/laneFixtures.js';

const SIZE = 1024 * 1024 + 5;

describe('transfer log lines', () => {
  let root: string;
  let pool: NodePool;
  let receiver: OctopiiNode;
  let sender: OctopiiNode;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    root = await tempDir('octopii-observe-log-');
    pool = new NodePool(root);
    const logger = createPinoLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    receiver = await pool.start({ transport: 'quinn', runtime: { logger } });
    sender = await pool.start({ transport: 'quinn' });
    const off = logTransfers(receiver, receiver.logger);
    const r = await sender.send({ address: receiver.address, nodeId: receiver.nodeId }, { kind: 'memory', data: randomBytes(SIZE) });
    expect(r.success).toBe(true);
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.event === 'transfer.finished') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    off();
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
});
