/**
 * `octopii blobs list|add|rm|gc`: the node's blob store (`--store DIR`, else `<data-dir>/blobs`)
 * without starting a node.
 *
 *   list      one line per blob: root, state, size, verified blocks, tags and `in:TAG` for the
 *             tagged collections that list it (`--json`: JSON lines)
 *   add PATH… adds files and directories as one collection (as `share` does, without serving);
 *             prints its root; `--block-size SIZE` (else config `blobs.blockSize`, else 1 MiB)
 *   rm TAG…   removes the tags (and the `TAG.<n>` member tags of stores written before a
 *             collection's tag kept its members), then deletes every blob no tag keeps
 *   gc        deletes every blob, complete or partial, that no tag keeps (a tag keeps the blob it
 *             names and, for a collection manifest, every member: src/blobs/liveness.ts)
 *
 * gc runs in this process: it cannot see the pins of a `get` or `share` running in another one.
 * `get` tags the manifest before fetching it, so its members are kept as soon as it is held;
 * `share` tags the manifest once its files are added (until then another process's gc could
 * take a file just added).
 */
import { basename, resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { OctopiiError } from '../errors.js';
import { formatBytes, openStore, storeDirOf, tagFromName, type StoreFlags } from './blobStore.js';
import { jsonLine } from './output.js';

export interface BlobsOptions extends StoreFlags {
  json?: boolean;
  tag?: string;
  /** Block size of the blobs `add` makes, bytes (over the config's `blobs.blockSize`). */
  blockSize?: number;
}

const out = (line: string) => void process.stdout.write(`${line}\n`);

/** Runs one subcommand. Throws INVALID_ARGUMENT (config, an unknown tag), SOURCE_NOT_FOUND (add), the store's errors. */
export async function runBlobs(sub: 'list' | 'add' | 'rm' | 'gc', args: string[], opts: BlobsOptions): Promise<void> {
  const cfg = loadConfig({ dataDir: opts.dataDir }, { file: opts.config });
  const { store, release } = await openStore(storeDirOf(opts, cfg), cfg.hashThreads);
  try {
    if (sub === 'list') {
      const { listBlobs } = await import('../blobs/inventory.js');
      for (const b of await listBlobs(store)) {
        if (opts.json) jsonLine(b);
        else {
          const state = b.state === 'complete' ? 'complete' : `partial ${b.blocks}/${b.totalBlocks} blocks`;
          out(`${b.root}  ${state.padEnd(24)} ${formatBytes(b.size).padStart(9)}  ${[...b.tags, ...b.collections.map((t) => `in:${t}`)].join(',')}`);
        }
      }
    } else if (sub === 'add') {
      const { addPaths } = await import('../blobs/collection.js');
      const { rootHex } = await import('../blobs/tree.js');
      const tag = opts.tag ?? tagFromName('add', basename(resolve(args[0]!)));
      const blockBytes = opts.blockSize ?? cfg.blobs.blockSize;
      const r = await addPaths(store, args, { tag, ...(blockBytes !== undefined ? { blockBytes } : {}) });
      const result = { root: rootHex(r.root), files: r.entries.length, bytes: r.entries.reduce((a, e) => a + e.size, 0), skipped: r.skipped, tag };
      if (opts.json) jsonLine(result);
      else out(`${result.root}  ${result.files} files, ${formatBytes(result.bytes)}, tag ${tag}`);
    } else if (sub === 'rm') {
      const tags = await store.tags();
      for (const name of args) if (!tags.has(name)) throw new OctopiiError('INVALID_ARGUMENT', `no tag named ${JSON.stringify(name)} in ${store.dir} (see \`octopii blobs list\`)`);
      const untagged = [...tags.keys()].filter((t) => args.some((name) => t === name || (t.startsWith(`${name}.`) && /^\d+$/.test(t.slice(name.length + 1)))));
      for (const t of untagged) await store.setTag(t, null);
      const removed = await store.gc();
      if (opts.json) jsonLine({ untagged, removed });
      else out(`removed ${untagged.length} tags and ${removed.length} blobs`);
    } else {
      const removed = await store.gc();
      if (opts.json) jsonLine({ removed });
      else out(`removed ${removed.length} blobs`);
    }
  } finally {
    await release();
  }
}
