/**
 * Request → transfer → confirm (seed 000's file server pattern): a client asks a file server for
 * a file by RPC; the server refuses paths that leave its root (PERMISSION_DENIED: `../`,
 * absolute paths, symlinks out are not followed here), ships the file over the lane to the
 * caller on the connection the call came in on, and answers with its size and SHA-256; the
 * client checks what it received against that and confirms by a second call.
 *
 *   npx tsx examples/rpc-file-server.ts
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { OctopiiNode, defineService, OctopiiError, type RpcError, type ReceivedEvent } from '../src/index.js';
import { generateIdentity } from '../src/identity.js';

export const files = defineService('files', {
  request: { input: z.object({ path: z.string().min(1) }), output: z.object({ bytes: z.number(), sha256: z.string() }) },
  confirm: { input: z.object({ path: z.string(), sha256: z.string() }), output: z.object({ ok: z.boolean() }), idempotent: true },
});

/** `path` inside `root`, or PERMISSION_DENIED. */
function inside(root: string, path: string): string {
  const full = resolve(root, path);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || rel.split(sep).includes('..') || resolve(root, rel) !== full) {
    throw new OctopiiError('PERMISSION_DENIED', `path ${JSON.stringify(path)} leaves the served directory`);
  }
  return full;
}

const dir = await mkdtemp(join(tmpdir(), 'octopii-files-'));
const root = join(dir, 'served');
await import('node:fs/promises').then((fs) => fs.mkdir(root));
const content = randomBytes(3 * 1024 * 1024);
await writeFile(join(root, 'report.bin'), content);

const server = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: 'quinn' });
const client = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', transport: 'quinn', receiveDir: join(dir, 'inbox') });
const confirmed: string[] = [];
server.serve(files, {
  request: async ({ path }, ctx) => {
    const full = inside(root, path);
    // The caller is connected: the lane goes back over the connection the call came in on.
    const r = await server.send({ address: '', nodeId: ctx.peer! }, { kind: 'file', path: full }, { signal: ctx.signal });
    if (!r.success) throw new OctopiiError(r.error?.code ?? "INTERNAL", r.error?.message ?? "transfer failed");
    return { bytes: r.bytesTransferred, sha256: r.sha256 ?? "" };
  },
  confirm: ({ path, sha256 }) => {
    confirmed.push(`${path} ${sha256.slice(0, 16)}…`);
    return { ok: true };
  },
});

const received: ReceivedEvent[] = [];
client.onReceived((e) => received.push(e));
const fs = client.client(files, { address: server.address, nodeId: server.nodeId });
const got = await fs.request({ path: 'report.bin' });
const arrived = received.find((e) => e.sha256 === got.sha256);
console.log(`received ${got.bytes} bytes, sha256 ${got.sha256.slice(0, 16)}… ${arrived?.ok ? 'verified' : 'MISSING'} (expected ${createHash('sha256').update(content).digest('hex').slice(0, 16)}…)`);
await fs.confirm({ path: 'report.bin', sha256: got.sha256 });
console.log(`server saw confirm: ${confirmed.join(', ')}`);
for (const bad of ['../secret', '/etc/passwd', 'a/../../x']) {
  const code = await fs.request({ path: bad }).then(() => 'OK', (e: RpcError) => e.code);
  console.log(`request ${JSON.stringify(bad)} → ${code}`);
}
await client.stop();
await server.stop();
await rm(dir, { recursive: true, force: true });
