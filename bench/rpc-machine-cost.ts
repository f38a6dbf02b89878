/**
 * CPU cost of the machines a call goes through (no I/O): the rpcCall actor (create, start,
 * SENT, DONE), the same as a child of the per-peer rpcCalls logic, and one admission
 * ACQUIRE + RELEASE. `npx tsx bench/rpc-machine-cost.ts`
 */
import { createActor } from 'xstate';
import { rpcCallMachine } from '../machines/rpcCall.js';
import { rpcCallsLogic } from '../machines/rpcCalls.js';
import { admissionMachine } from '../machines/admission.js';

const N = 20_000;
const cpu = (name: string, fn: () => void) => {
  for (let i = 0; i < 2_000; i++) fn();
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const c = process.cpuUsage(c0);
  console.log(`${name.padEnd(48)} ${((c.user + c.system) / N).toFixed(1).padStart(7)} µs CPU`);
};
const input = { method: 'a.b', idempotent: false, deadlineMs: 30_000 };
cpu('rpcCall standalone: create, start, SENT, DONE', () => {
  const a = createActor(rpcCallMachine, { input });
  a.start();
  a.send({ type: 'SENT' });
  a.send({ type: 'DONE' });
});
const parent = createActor(rpcCallsLogic, { input: undefined });
parent.start();
let n = 0;
const live: Array<{ send(e: unknown): void }> = [];
cpu('rpcCall under the rpcCalls parent (64 in flight)', () => {
  const id = `c${++n}`;
  parent.send({ type: 'CALL', id, logic: rpcCallMachine, input });
  live.push(parent.getSnapshot().children[id]!);
  if (live.length > 64) {
    const first = live.shift()!;
    first.send({ type: 'SENT' });
    first.send({ type: 'DONE' });
  }
});
const adm = createActor(admissionMachine, { input: { limit: 1024, queueLimit: 0 } });
adm.start();
cpu('admission ACQUIRE + RELEASE', () => {
  adm.send({ type: 'ACQUIRE', ticket: 1 });
  adm.send({ type: 'RELEASE' });
});
