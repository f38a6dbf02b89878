import { OctopiiNode } from '../src/node.js';
import { generateIdentity } from '../src/identity.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { systemClock } from '../src/runtime/clock.js';
import { rpcCallMachine } from '../machines/rpcCall.js';
import { createActor } from 'xstate';
const net = new MemoryNetwork({ clock: systemClock });
const identity = generateIdentity();
const node = await OctopiiNode.start({ identity, listen: '10.0.0.1:4000', runtime: { clock: systemClock, transport: net.transport({ identity }), hasher: {} as never } });
for (const N of [100, 1000]) {
  const refs = [];
  let t0 = performance.now();
  for (let i = 0; i < N; i++) refs.push(node.spawn(`peer:x/call#${N}-${i}`, rpcCallMachine, { input: { method: 'a.b', idempotent: false, deadlineMs: 100000 }, restart: 'temporary' }));
  const spawnMs = performance.now() - t0;
  t0 = performance.now();
  for (const r of refs) { r.send({ type: 'SENT' }); r.send({ type: 'DONE' }); }
  console.log(`supervised N=${N}: spawn ${(spawnMs * 1000 / N).toFixed(1)} µs/call, finish ${((performance.now() - t0) * 1000 / N).toFixed(1)} µs/call`);
}
for (const N of [1000, 3000]) {
  let t0 = performance.now();
  for (let i = 0; i < N; i++) { const a = createActor(rpcCallMachine, { input: { method: 'a.b', idempotent: false, deadlineMs: 100000 } }); a.start(); a.send({ type: 'SENT' }); a.send({ type: 'DONE' }); }
  console.log(`standalone N=${N}: ${((performance.now() - t0) * 1000 / N).toFixed(1)} µs/call`);
}
await node.stop();
{
  const { rpcCallsLogic } = await import('../machines/rpcCalls.js');
  const node2 = await OctopiiNode.start({ identity: generateIdentity(), listen: '10.0.0.2:4000', runtime: { clock: systemClock, transport: net.transport({ identity: generateIdentity() }), hasher: {} as never } });
  const parent = node2.spawn('peer:x/rpc', rpcCallsLogic, { restart: 'temporary' });
  for (const N of [1000, 3000]) {
    let t0 = performance.now();
    for (let i = 0; i < N; i++) parent.send({ type: 'CALL', id: `peer:x/call#${N}-${i}`, logic: rpcCallMachine, input: { method: 'a.b', idempotent: false, deadlineMs: 100000 } });
    const spawnMs = performance.now() - t0;
    const kids = Object.values(parent.getSnapshot().children) as any[];
    t0 = performance.now();
    for (const r of kids) { r.send({ type: 'SENT' }); r.send({ type: 'DONE' }); }
    console.log(`per-peer parent N=${N}: spawn ${(spawnMs * 1000 / N).toFixed(1)} µs/call, finish ${((performance.now() - t0) * 1000 / N).toFixed(1)} µs/call, children left ${Object.keys(parent.getSnapshot().children).length}`);
  }
  await node2.stop();
}
