/**
 * `octopii share` / `get` / `blobs` as a user runs them: child processes (bin/octopii.js), real
 * QUIC on 127.0.0.1, real directories and stores in os.tmpdir(). A nested fixture tree is shared
 * and fetched byte for byte (the executable bit kept); a `get` killed part way is run again and moves exactly the blocks
 * its store still lacks; two sharers of the same tree both serve one `get`; a tree shared in
 * 256 KiB blocks and fetched with a window and download caps; bad tickets and block sizes are
 * usage errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readCollection } from '../../src/blobs/collection.js';
import { BlobStore } from '../../src/blobs/store.js';
import { encodeTicket, decodeTicket } from '../../src/blobs/ticket.js';
import { BLOCK_BYTES, parseRoot } from '../../src/blobs/tree.js';
import { CliProcess, killAll, runCli } from '../helpers/cliProcess.js';
import { rm, tempDir, writeRandomFile } from '../helpers/laneFixtures.js';

let root: string;
let tree: string;
beforeAll(async () => {
  root = await tempDir('octopii-blob-cli-');
  // The fixture: nested directories, multi-block files, small and empty files, two files with one content.
  tree = join(root, 'tree');
  await mkdir(join(tree, 'sub', 'deeper', 'deepest'), { recursive: true });
  await mkdir(join(tree, 'other'), { recursive: true });
  await writeRandomFile(join(tree, 'big.bin'), 3 * BLOCK_BYTES + 12_345);
  await chmod(join(tree, 'big.bin'), 0o755); // executable: comes out 0755
  await writeRandomFile(join(tree, 'sub', 'middle.bin'), 2 * BLOCK_BYTES + 1);
  await writeRandomFile(join(tree, 'sub', 'deeper', 'small.bin'), 10_000);
  await writeFile(join(tree, 'sub', 'deeper', 'deepest', 'empty'), '');
  await writeFile(join(tree, 'other', 'notes.txt'), 'octopii blobs\n');
  await writeFile(join(tree, 'other', 'copy.bin'), await readFile(join(tree, 'sub', 'middle.bin')));
});
afterAll(async () => {
  await killAll();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Every regular file under `dir`: relative path → contents (hex of nothing for empty). */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p));
    }
  };
  await walk(dir);
  return out;
}

/** Both trees hold the same paths with the same bytes. */
async function sameTree(a: string, b: string): Promise<{ paths: string[]; equal: boolean }> {
  const [x, y] = [await snapshot(a), await snapshot(b)];
  const paths = [...x.keys()].sort();
  return { paths, equal: paths.join('\n') === [...y.keys()].sort().join('\n') && paths.every((p) => x.get(p)!.equals(y.get(p)!)) };
}

/** `octopii share PATH… --json` on 127.0.0.1 with its own data dir; resolves with its sharing line. */
async function share(name: string, paths: string[], flags: string[] = []) {
  const p = new CliProcess(['share', ...paths, '--listen', '127.0.0.1:0', '--data-dir', join(root, name), '--json', ...flags]);
  const line = await p.nextLine(120_000);
  expect(line).toMatchObject({ event: 'sharing', ticket: expect.stringMatching(/^blob[a-z2-7]+$/), address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  return { p, ticket: line.ticket as string, root: line.root as string, address: line.address as string, line };
}

/** `octopii get TICKET… --json` to completion; its JSON lines. */
async function get(name: string, tickets: string[], dir: string, flags: string[] = []) {
  const r = await runCli(['get', ...tickets, '--dir', dir, '--data-dir', join(root, name), '--json', ...flags], { timeoutMs: 120_000 });
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
  return { ...r, lines, last: lines.at(-1)! };
}

describe('octopii share / get', () => {
  let a: Awaited<ReturnType<typeof share>>;
  beforeAll(async () => {
    a = await share('a', [tree]);
  }, 120_000);
  afterAll(async () => {
    await a?.p.stop('SIGTERM');
  });

  it('share prints a ticket naming its node and the collection of every file', () => {
    const t = decodeTicket(a.ticket);
    expect({ root: Buffer.from(t.root).toString('hex'), providers: t.providers.map((p) => p.address), files: a.line.files, skipped: a.line.skipped }).toEqual({
      root: a.root,
      providers: [a.address],
      files: 6,
      skipped: 0,
    });
  });

  it('get writes the shared directory byte for byte and exits 0; a second get fetches nothing', async () => {
    const out = join(root, 'out-1');
    const first = await get('b', [a.ticket], out);
    expect(first.code, first.stderr).toBe(0);
    expect(first.last).toMatchObject({ event: 'done', root: a.root, files: 6, dir: out });
    expect(await sameTree(tree, join(out, 'tree'))).toEqual({
      paths: ['big.bin', 'other/copy.bin', 'other/notes.txt', 'sub/deeper/deepest/empty', 'sub/deeper/small.bin', 'sub/middle.bin'],
      equal: true,
    });
    const modes = await Promise.all(['big.bin', 'sub/middle.bin'].map(async (p) => ((await stat(join(out, 'tree', p))).mode & 0o777).toString(8)));
    expect(modes).toEqual(['755', '644']);
    const again = await get('b', [a.ticket], join(root, 'out-1b'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.last).toMatchObject({ event: 'done', fetchedBytes: 0, missingBytes: 0 });
    expect((await sameTree(tree, join(root, 'out-1b', 'tree'))).equal).toBe(true);
  });

  it('get from two sharers of the same tree uses both and writes it byte for byte', async () => {
    const b = await share('a2', [tree]);
    try {
      expect(b.root).toBe(a.root);
      const out = join(root, 'out-2');
      const r = await get('c', [a.ticket, b.ticket], out);
      expect(r.code, r.stderr).toBe(0);
      const providers = (r.last.providers as Array<{ peer: string; bytes: number }>).map((p) => ({ peer: p.peer, delivered: p.bytes > 0 }));
      expect(providers).toEqual([
        { peer: a.address, delivered: true },
        { peer: b.address, delivered: true },
      ]);
      expect((await sameTree(tree, join(out, 'tree'))).equal).toBe(true);
    } finally {
      await b.p.stop('SIGTERM');
    }
  });

  it('blobs list shows the fetched collection under its tag; blobs rm of the tag empties the store', async () => {
    const out = join(root, 'out-3');
    expect((await get('d', [a.ticket], out)).code).toBe(0);
    const list = await runCli(['blobs', 'list', '--data-dir', join(root, 'd'), '--json']);
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { root: string; state: string; tags: string[] });
    const tag = `get-${a.root.slice(0, 16)}`;
    expect(rows.find((r) => r.root === a.root)).toMatchObject({ state: 'complete', tags: [tag] });
    expect(rows.length).toBe(6); // the manifest and five distinct contents
    const removed = await runCli(['blobs', 'rm', tag, '--data-dir', join(root, 'd'), '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).removed).toHaveLength(6);
    expect((await runCli(['blobs', 'list', '--data-dir', join(root, 'd')])).stdout).toBe('');
  });

  it('a ticket naming a root the provider does not hold fails with BLOB_NOT_FOUND (exit 1)', async () => {
    const t = decodeTicket(a.ticket);
    const unknown = encodeTicket({ root: parseRoot('ab'.repeat(32)), providers: t.providers });
    const r = await get('e', [unknown], join(root, 'out-4'));
    expect(r.code).toBe(1);
    expect(r.last).toMatchObject({ event: 'failed', error: { code: 'BLOB_NOT_FOUND' } });
  });
});

describe('octopii get resumes', () => {
  it('a get killed part way, run again, completes and fetches only the blocks its store lacks', async () => {
    const dir = join(root, 'large');
    await mkdir(dir);
    const size = 48 * BLOCK_BYTES + 777;
    await writeRandomFile(join(dir, 'large.bin'), size);
    const s = await share('r-share', [dir]);
    try {
      const out = join(root, 'out-resume');
      const args = ['get', s.ticket, '--dir', out, '--data-dir', join(root, 'r-get'), '--json'];
      const first = new CliProcess(args);
      // fetchedBytes counts the manifest too: wait for blocks of the large file.
      await first.lineWhere((l) => l.event === 'progress' && (l.fetchedBytes as number) > BLOCK_BYTES, 120_000);
      first.child.kill('SIGKILL');
      await first.exited;

      // What the killed run left verified, read from its store's maps.
      const store = await BlobStore.open(join(root, 'r-get', 'blobs'));
      const [large] = await readCollection(store, parseRoot(s.root));
      const missing = (await store.missing(parseRoot(large!.root))) ?? [[0, Math.ceil(size / BLOCK_BYTES)]];
      const missingBytes = missing.reduce((acc, [from, to]) => acc + Math.min(to * BLOCK_BYTES, size) - from * BLOCK_BYTES, 0);

      const again = await get('r-get', [s.ticket], out);
      expect(again.code, again.stderr).toBe(0);
      expect({ partWay: missingBytes > 0 && missingBytes < size, fetched: again.last.fetchedBytes, missing: again.last.missingBytes }).toEqual({
        partWay: true,
        fetched: missingBytes,
        missing: missingBytes,
      });
      expect((await sameTree(dir, join(out, 'large'))).equal).toBe(true);
    } finally {
      await s.p.stop('SIGTERM');
    }
  });
});

describe('octopii get: bad tickets are usage errors (exit 2) before anything starts', () => {
  it.each([
    ['notaticket', 'not a blob ticket: no "blob" prefix'],
    ['blob!!!!', 'not a blob ticket: bad base32'],
    ['blobaeaq', 'not a blob ticket: truncated'],
  ])('%j', async (ticket, message) => {
    const r = await runCli(['get', ticket, '--dir', join(root, 'never'), '--data-dir', join(root, 'never-data')]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toContain(`error: argument '${ticket}' is invalid. ${message}`);
  });

  it('two tickets for different content: exit 2, naming the problem', async () => {
    const t1 = encodeTicket({ root: parseRoot('ab'.repeat(32)), providers: [] });
    const t2 = encodeTicket({ root: parseRoot('cd'.repeat(32)), providers: [] });
    const r = await runCli(['get', t1, t2, '--dir', join(root, 'never'), '--data-dir', join(root, 'never-data')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INVALID_ARGUMENT: the tickets name different collections');
  });
});

describe('octopii share: upload caps', () => {
  it('share --max-upload-rate 100MB --max-upload-rate-per-peer 50MB --no-compress serves a get byte for byte', async () => {
    const s = await share('capped', [tree], ['--max-upload-rate', '100MB', '--max-upload-rate-per-peer', '50MB', '--no-compress']);
    try {
      const out = join(root, 'out-capped');
      const r = await get('capped-get', [s.ticket], out);
      expect({ code: r.code, event: r.last.event, equal: (await sameTree(tree, join(out, 'tree'))).equal }).toEqual({ code: 0, event: 'done', equal: true });
    } finally {
      await s.p.stop('SIGTERM');
    }
  });

  it('refuses a cap that is not a size as a usage error (exit 2) before anything starts', async () => {
    const r = await runCli(['share', join(root, 'never'), '--max-upload-rate', 'fast', '--data-dir', join(root, 'never-data')]);
    expect({ code: r.code, stdout: r.stdout, named: r.stderr.includes("option '--max-upload-rate <size>' argument 'fast' is invalid. expected a size in bytes above 0") }).toEqual({
      code: 2,
      stdout: '',
      named: true,
    });
  });
});

describe('octopii share --block-size, get --window and download caps', () => {
  it('share --block-size 256KiB; get --window 8 --max-download-rate 200MB --max-download-rate-per-peer 100MB writes it byte for byte in 256 KiB blocks', async () => {
    const s = await share('bs-share', [tree], ['--block-size', '256KiB']);
    try {
      const out = join(root, 'out-bs');
      const r = await get('bs-get', [s.ticket], out, ['--window', '8', '--max-download-rate', '200MB', '--max-download-rate-per-peer', '100MB']);
      const store = await BlobStore.open(join(root, 'bs-get', 'blobs'));
      const big = (await readCollection(store, parseRoot(s.root))).find((e) => e.path === 'tree/big.bin')!;
      expect({ code: r.code, event: r.last.event, equal: (await sameTree(tree, join(out, 'tree'))).equal, blockBytes: (await store.shape(parseRoot(big.root))).blockBytes }).toEqual({
        code: 0,
        event: 'done',
        equal: true,
        blockBytes: 256 * 1024,
      });
    } finally {
      await s.p.stop('SIGTERM');
    }
  });

  it('refuses a block size that is not a power of two from 16KiB to 16MiB as a usage error (exit 2)', async () => {
    const r = await runCli(['share', join(root, 'never'), '--block-size', '100KB', '--data-dir', join(root, 'never-data')]);
    expect({ code: r.code, stdout: r.stdout, named: r.stderr.includes("option '--block-size <size>' argument '100KB' is invalid. expected a power of two from 16KiB to 16MiB") }).toEqual({
      code: 2,
      stdout: '',
      named: true,
    });
  });
});
