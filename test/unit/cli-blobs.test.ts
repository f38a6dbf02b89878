/** The pure parts of `octopii share` / `get` / `blobs`: pooling tickets, the advertised address, tag names, ticket and tag flags; `blobs add --block-size` in process. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/blobs/store.js';
import { encodeTicket } from '../../src/blobs/ticket.js';
import { parseRoot } from '../../src/blobs/tree.js';
import { runBlobs } from '../../src/cli/blobs.js';
import { tagFromName } from '../../src/cli/blobStore.js';
import { poolTickets } from '../../src/cli/get.js';
import { tagArg, ticketArg } from '../../src/cli/options.js';
import { advertisedAddress } from '../../src/cli/share.js';
import { generateIdentity } from '../../src/identity.js';

const A = { nodeId: generateIdentity().nodeId, address: '127.0.0.1:4001' };
const B = { nodeId: generateIdentity().nodeId, address: '127.0.0.1:4002' };
const R1 = parseRoot('11'.repeat(32));
const R2 = parseRoot('22'.repeat(32));

describe('poolTickets', () => {
  it('pools the providers of tickets for one root, each once, in ticket order', () => {
    const pooled = poolTickets([ticketArg(encodeTicket({ root: R1, providers: [A, B] })), ticketArg(encodeTicket({ root: R1, providers: [B] }))]);
    expect(pooled.providers).toEqual([A, B]);
  });

  it('refuses tickets for different roots with INVALID_ARGUMENT', () => {
    expect(() => poolTickets([{ root: R1, providers: [A] }, { root: R2, providers: [B] }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('refuses a ticket naming no provider with INVALID_ARGUMENT', () => {
    expect(() => poolTickets([{ root: R1, providers: [] }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'the ticket names no provider' }));
  });
});

describe('advertisedAddress', () => {
  it('is --advertise when given', () => {
    expect(advertisedAddress('0.0.0.0:4000', '192.0.2.7:9000')).toBe('192.0.2.7:9000');
  });
  it('is the bound address when it is not a wildcard', () => {
    expect(advertisedAddress('127.0.0.1:4000', undefined)).toBe('127.0.0.1:4000');
  });
  it('keeps the bound port for a wildcard bind', () => {
    expect(advertisedAddress('0.0.0.0:4000', undefined)).toMatch(/^\d+\.\d+\.\d+\.\d+:4000$/);
  });
});

describe('tag names and flags', () => {
  it('a path name becomes a valid tag', () => {
    expect([tagFromName('share', 'node_modules'), tagFromName('share', 'my photos (2024)'), tagFromName('share', '.config')]).toEqual([
      'share-node_modules',
      'share-my_photos__2024_',
      'share-config',
    ]);
    for (const t of ['share-node_modules', 'share-my_photos__2024_']) expect(tagArg(t)).toBe(t);
  });
  it('--tag refuses a path', () => {
    expect(() => tagArg('../x')).toThrow(InvalidArgumentError);
  });
  it('a ticket flag refuses a string that is not a ticket, saying why', () => {
    expect(() => ticketArg('blob')).toThrow('not a blob ticket: truncated');
  });
});

describe('blobs add --block-size', () => {
  it('adds the collection at the block size given, over the config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'octopii-cliblobs-'));
    try {
      await writeFile(join(dir, 'a.bin'), new Uint8Array(100_000).fill(7));
      const lines: string[] = [];
      const write = process.stdout.write;
      process.stdout.write = ((s: string) => (lines.push(s), true)) as typeof process.stdout.write;
      try {
        await runBlobs('add', [join(dir, 'a.bin')], { store: join(dir, 'store'), dataDir: dir, json: true, blockSize: 32 * 1024 });
      } finally {
        process.stdout.write = write;
      }
      const { root } = JSON.parse(lines.join('')) as { root: string };
      expect((await (await BlobStore.open(join(dir, 'store'))).shape(parseRoot(root))).blockBytes).toBe(32 * 1024);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
