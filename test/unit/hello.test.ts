/**
 * The hello on the control stream (src/router/control.ts) over the in-memory network, on a
 * simulated clock: both sides learn each other's node ID and kinds; a hello that claims another
 * node ID, speaks another version or never comes ends in HANDSHAKE_FAILED.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { generateIdentity } from '../../src/identity.js';
import { acceptHello, dialHello } from '../../src/router/control.js';
import { StreamRouter } from '../../src/router/router.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { PeerConnection } from '../../src/transport/types.js';
import { CONTROL_PROTOCOL_VERSION, type HelloMessage } from '../../src/wire/control.js';

async function setup(serverHello: (id: string) => HelloMessage | null) {
  const clock = new SimulatedClock();
  const net = new MemoryNetwork({ clock });
  const serverId = generateIdentity();
  const server = net.transport({ identity: serverId });
  const client = net.transport({ identity: generateIdentity() });
  await server.listen({ address: '10.0.0.1:1' });
  const router = new StreamRouter({ clock });
  const accepted: Array<Promise<unknown>> = [];
  router.register('control', (stream, { connection }) => {
    const hello = serverHello(serverId.nodeId);
    if (hello) accepted.push(acceptHello(connection, stream, hello, { clock }).catch((e) => e));
  });
  server.onConnection((conn) => conn.onStream((s) => router.dispatch(conn, s)));
  const conn: PeerConnection = await client.dial('10.0.0.1:1');
  const hello: HelloMessage = { t: 'hello', v: CONTROL_PROTOCOL_VERSION, nodeId: client.nodeId, kinds: ['lane'], agent: 'test' };
  return { clock, conn, router: new StreamRouter({ clock }), hello, serverId, accepted };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('hello', () => {
  it("gives each side the other's node ID and kinds", async () => {
    const h = await setup((id) => ({ t: 'hello', v: CONTROL_PROTOCOL_VERSION, nodeId: id, kinds: ['lane', 'rpc'], agent: 'srv' }));
    const { hello } = await dialHello(h.conn, h.router, h.hello, { clock: h.clock });
    expect(hello).toEqual({ t: 'hello', v: 1, nodeId: h.serverId.nodeId, kinds: ['lane', 'rpc'], agent: 'srv' });
    const [accepted] = (await Promise.all(h.accepted)) as Array<{ hello: HelloMessage }>;
    expect(accepted!.hello.nodeId).toBe(h.hello.nodeId);
  });

  it('refuses a hello that claims another node ID than the certificate proves', async () => {
    const h = await setup(() => ({ t: 'hello', v: CONTROL_PROTOCOL_VERSION, nodeId: generateIdentity().nodeId, kinds: [], agent: 'liar' }));
    await expect(dialHello(h.conn, h.router, h.hello, { clock: h.clock })).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED', message: expect.stringMatching(/^peer says it is 12D3KooW\w+ but its certificate proves 12D3KooW\w+$/) });
  });

  it('refuses another protocol version', async () => {
    const h = await setup((id) => ({ t: 'hello', v: 2, nodeId: id, kinds: [], agent: 'future' }));
    await expect(dialHello(h.conn, h.router, h.hello, { clock: h.clock })).rejects.toMatchObject({
      code: 'HANDSHAKE_FAILED',
      message: 'peer speaks control protocol version 2, this node 1',
    });
  });

  it('gives up when no hello comes within the deadline (simulated clock)', async () => {
    const h = await setup(() => null);
    const dialing = dialHello(h.conn, h.router, h.hello, { clock: h.clock, timeoutMs: 2_000 });
    const outcome = dialing.then(() => 'hello', (e: { code: string; message: string }) => `${e.code}: ${e.message}`);
    await flush();
    h.clock.increment(1_999);
    await flush();
    h.clock.increment(1);
    expect(await outcome).toBe('HANDSHAKE_FAILED: hello: no answer within 2000 ms');
  });
});
