/**
 * Child process for the dead-peer tests (test/transport/deadPeer.ts): a transport that listens,
 * accepts every connection and stream, and never reads or answers — so the parent's reads wait
 * and its writes stop at the flow-control window — until the test kills it with SIGKILL.
 *
 *   node --import tsx test/transport/silentPeer.ts quinn|matrixai
 *
 * stdout: one JSON line `{ "address": "127.0.0.1:PORT", "nodeId": "…" }` once listening, then
 * `{ "stream": N }` for each stream the peer opened (so the test knows it arrived).
 */
import 'reflect-metadata';
import { generateIdentity } from '../../src/identity.js';
import { createTransport } from '../../src/transport/index.js';

const kind = process.argv[2];
if (kind !== 'quinn' && kind !== 'matrixai') {
  process.stderr.write('usage: silentPeer.ts quinn|matrixai\n');
  process.exit(64);
}
const transport = await createTransport(kind, { identity: generateIdentity() });
let streams = 0;
transport.onConnection((c) =>
  c.onStream(() => {
    process.stdout.write(`${JSON.stringify({ stream: ++streams })}\n`);
  }),
);
const { address } = await transport.listen({ address: '127.0.0.1:0' });
process.stdout.write(`${JSON.stringify({ address, nodeId: transport.nodeId })}\n`);
