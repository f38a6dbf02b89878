/**
 * A node's stop() ends everything it started, under a simulated clock that does not move while
 * it stops: work still waiting for a peer to connect fails CLOSED instead of keeping stop() open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimWorld } from '../helpers/simWorld.js';

let w: SimWorld;
afterEach(() => w.close());

describe('node stop', () => {
  it('a send still connecting when its own node stops fails CLOSED and stop() resolves without simulated time passing (found by seed 10004 of the node simulation)', async () => {
    w = await SimWorld.create({ receive: 'memory', peer: { retryInitialMs: 200, maxRetries: 3 } });
    await w.start('a');
    await w.start('b');
    await w.kill('b');
    w.send('t', 'a', 'b', 1000);
    await w.advance(10); // a is dialling (or backing off): the send waits in connect
    const node = w.node('a');
    w.nodes.get('a')!.node = null;
    const t0 = w.now;
    await node.stop(); // the clock is not advanced: stop must not wait on a connect's budget
    await w.flush();
    expect([w.transfers.get('t')!.result?.error?.code, w.now - t0]).toEqual(['CLOSED', 0]);
  }, 5_000);
});
