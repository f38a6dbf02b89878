/**
 * Bidirectional sync of block-hash lists (seed 000): node A holds blocks, B holds some of them.
 * A opens a bidi `sync.diff` call and streams its block hashes in batches; B answers each batch
 * with the hashes it lacks; A ships each missing block over the lane (content-addressed: B keeps
 * a block only if its SHA-256 is the hash it asked for). At the end both hold the same set.
 *
 *   npx tsx examples/rpc-sync.ts
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { OctopiiNode, defineService } from '../src/index.js';
import { generateIdentity } from '../src/identity.js';

export const sync = defineService('sync', {
  diff: { input: z.object({ hashes: z.array(z.string()) }), output: z.object({ missing: z.array(z.string()) }), stream: 'bidi' },
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const blocks = (n: number) => new Map(Array.from({ length: n }, () => randomBytes(64 * 1024)).map((b) => [sha(b), b] as const));

const aBlocks = blocks(200);
const bBlocks = new Map<string, Uint8Array>([...aBlocks].filter((_, i) => i % 3 !== 0)); // B lacks every third block

const a = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: 'quinn' });
const b = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: 'quinn' });
const wanted = new Set<string>();
b.onReceived((e) => {
  if (e.ok && e.data && wanted.delete(e.sha256)) bBlocks.set(e.sha256, e.data);
});
b.serve(sync, {
  diff: async function* (batches) {
    for await (const { hashes } of batches) {
      const missing = hashes.filter((h) => !bBlocks.has(h));
      for (const h of missing) wanted.add(h);
      yield { missing };
    }
  },
});

const toB = { address: b.address, nodeId: b.nodeId };
const hashes = [...aBlocks.keys()];
async function* batches() {
  for (let i = 0; i < hashes.length; i += 50) yield { hashes: hashes.slice(i, i + 50) };
}
let shipped = 0;
const t0 = performance.now();
for await (const { missing } of a.client(sync, toB).diff(batches())) {
  const results = await Promise.all(missing.map((h) => a.send(toB, { kind: 'memory', data: aBlocks.get(h)! })));
  shipped += results.filter((r) => r.success).length;
}
const same = aBlocks.size === bBlocks.size && [...aBlocks.keys()].every((h) => bBlocks.has(h));
console.log(`A had ${aBlocks.size} blocks, B lacked ${Math.ceil(aBlocks.size / 3)}; shipped ${shipped} over the lane in ${Math.round(performance.now() - t0)} ms; in sync: ${same}`);
await a.stop();
await b.stop();
process.exitCode = same ? 0 : 1;
