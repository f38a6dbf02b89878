/**
 * Child process for the quinn runtime-thread tests (test/integration/transport-quinn.test.ts):
 * the binding's runtime is process-wide, so each case needs a fresh process.
 *
 *   node --import tsx test/helpers/quinnRuntimeProbe.ts [THREADS]
 *
 * Creates a QuinnTransport (with `runtimeThreads: THREADS` when given), moves 1 MiB between two
 * transports on 127.0.0.1, then tries a second transport with a different thread count, and
 * prints one JSON line: `{ ok, threads, tokioThreads, moved, envAfter, second }` or
 * `{ ok: false, code, message }` when the first create fails.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { generateIdentity } from '../../src/identity.js';
import { OctopiiError } from '../../src/errors.js';
import { QuinnTransport, quinnRuntimeThreads } from '../../src/transport/quinn.js';

const tokioThreads = (): number =>
  readdirSync('/proc/self/task').filter((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim().startsWith('tokio');
    } catch {
      return false;
    }
  }).length;

const arg = process.argv[2];
const threads = arg === undefined ? undefined : Number(arg);
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
let a: QuinnTransport;
try {
  a = await QuinnTransport.create({ identity: generateIdentity(), runtimeThreads: threads });
} catch (e) {
  const err = e instanceof OctopiiError ? e : new OctopiiError('IO_ERROR', String(e));
  out({ ok: false, code: err.code, message: err.message });
  process.exit(0);
}
const b = await QuinnTransport.create({ identity: generateIdentity() });
await b.listen({ address: '127.0.0.1:0' });
let moved = 0;
let served: Promise<void> = Promise.resolve();
b.onConnection((c) =>
  c.onStream((s) => {
    served = (async () => {
      const r = s.readable.getReader();
      for (let x = await r.read(); !x.done; x = await r.read()) moved += x.value.byteLength;
      const w = s.writable.getWriter();
      await w.write(Uint8Array.of(moved === 1 << 20 ? 0 : 1));
      await w.close();
    })();
  }),
);
const conn = await a.dial(b.address!, { expectedNodeId: b.nodeId });
const s = await conn.openStream();
const w = s.writable.getWriter();
await w.write(new Uint8Array(1 << 20).fill(7));
await w.close();
const reader = s.readable.getReader();
const answer = await reader.read();
await reader.read(); // the receiver's FIN
await served;
let second: string;
try {
  await QuinnTransport.create({ identity: generateIdentity(), runtimeThreads: (quinnRuntimeThreads() ?? 1) + 1 });
  second = 'created';
} catch (e) {
  second = e instanceof OctopiiError ? e.code : String(e);
}
out({ ok: true, threads: quinnRuntimeThreads(), tokioThreads: tokioThreads(), moved, status: answer.value?.[0], envAfter: process.env.TOKIO_WORKER_THREADS ?? null, second });
await a.close();
await b.close();
