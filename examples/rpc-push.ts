/**
 * Push notifications (seed 000): a phone node serves `push.notify`; a server node pushes to it
 * one-way (`node.notify`: no reply, no wait for the handler) and checks the phone is alive
 * with `node.ping` first.
 *
 *   npx tsx examples/rpc-push.ts
 */
import { z } from 'zod';
import { OctopiiNode, defineService, nodeService } from '../src/index.js';
import { generateIdentity } from '../src/identity.js';

export const push = defineService('push', {
  notify: { input: z.object({ title: z.string(), body: z.string(), badge: z.number().int().optional() }), output: z.object({}) },
});

const phone = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: 'quinn' });
const server = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: 'quinn' });
let shown = 0;
const allShown = new Promise<void>((resolve) => {
  phone.serve(push, {
    notify: ({ title, body, badge }, ctx) => {
      console.log(`phone: [${title}] ${body}${badge ? ` (${badge})` : ''} — from ${ctx.peer?.slice(0, 12)}…`);
      if (++shown === 3) resolve();
      return {};
    },
  });
});

const to = { address: phone.address, nodeId: phone.nodeId };
const { nodeId } = await server.client(nodeService, to).ping({ nonce: 1 }, { deadlineMs: 2_000 });
console.log(`server: phone ${nodeId.slice(0, 12)}… is alive`);
await server.notify(to, push, 'notify', { title: 'build', body: 'main is green' });
await server.notify(to, push, 'notify', { title: 'mail', body: '2 new messages', badge: 2 });
await server.notify(to, push, 'notify', { title: 'calendar', body: 'stand-up in 5 min' });
await allShown;
await server.stop();
await phone.stop();
