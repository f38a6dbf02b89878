/**
 * A WAL file layer that fails on command, over the real one (node:fs/promises): tells the WAL's
 * tests what a disk that refuses writes looks like. `failWith('ENOSPC')` makes every write,
 * fdatasync, truncate and file creation throw an errno error with that code until `heal()`;
 * `partial` makes a failing write put the first half of its bytes on disk before it throws, as a
 * real short write before ENOSPC does.
 */
import { nodeWalFs, type WalFile, type WalFs } from '../../src/wal/index.js';

export type FaultOp = 'write' | 'datasync' | 'truncate' | 'create';

export class FaultyWalFs implements WalFs {
  private code: string | null = null;
  private ops = new Set<FaultOp>();
  private partial = false;
  /** How many operations were refused. */
  refused = 0;

  constructor(private readonly inner: WalFs = nodeWalFs) {}

  /** From now on, `ops` throw an error with errno `code` (e.g. ENOSPC, EIO). */
  failWith(code: string, { ops = ['write', 'datasync', 'truncate', 'create'], partial = false }: { ops?: FaultOp[]; partial?: boolean } = {}): void {
    this.code = code;
    this.ops = new Set(ops);
    this.partial = partial;
  }

  /** The disk writes again. */
  heal(): void {
    this.code = null;
  }

  /** Throws if `op` is set to fail. */
  check(op: FaultOp): void {
    if (this.code && this.ops.has(op)) {
      this.refused++;
      throw Object.assign(new Error(`${this.code}: injected failure of ${op}`), { code: this.code });
    }
  }

  private wrap(f: WalFile): WalFile {
    const fs = this;
    return {
      path: f.path,
      async write(data, position) {
        if (fs.code && fs.ops.has('write') && fs.partial) await f.write(data.subarray(0, data.byteLength >> 1), position);
        fs.check('write');
        return f.write(data, position);
      },
      read: (into, position) => f.read(into, position),
      async datasync() {
        fs.check('datasync');
        return f.datasync();
      },
      async truncate(length) {
        fs.check('truncate');
        return f.truncate(length);
      },
      size: () => f.size(),
      close: () => f.close(),
    };
  }

  mkdirp = (dir: string) => this.inner.mkdirp(dir);
  list = (dir: string) => this.inner.list(dir);
  openWrite = async (path: string) => this.wrap(await this.inner.openWrite(path));
  openRead = async (path: string) => this.wrap(await this.inner.openRead(path));
  create = async (path: string) => {
    this.check('create');
    return this.wrap(await this.inner.create(path));
  };
  readAll = (path: string) => this.inner.readAll(path);
  rename = (from: string, to: string) => this.inner.rename(from, to);
  remove = (path: string) => this.inner.remove(path);
  syncDir = (dir: string) => this.inner.syncDir(dir);
}
