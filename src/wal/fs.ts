/**
 * The file layer the WAL writes through: the few operations it needs, as an interface, so that a
 * test can hand it a layer that fails on command (ENOSPC, EIO…) and check that the WAL stays
 * consistent. {@link nodeWalFs} is the real one, on `node:fs/promises`.
 *
 * Errors are thrown as they come (Node errors with `code`); the WAL converts them with
 * `toOctopiiError` (ENOSPC → DISK_FULL, EACCES → PERMISSION_DENIED, others → IO_ERROR).
 */
import { open, readdir, mkdir, rename, rm, readFile, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';

/** An open file of the WAL. Positions and lengths are in bytes. */
export interface WalFile {
  readonly path: string;
  /** Writes all of `data` at `position` (loops over short writes). */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Reads up to `into.byteLength` bytes at `position`; resolves with how many were read. */
  read(into: Uint8Array, position: number): Promise<number>;
  /** fdatasync(2): the data written so far (and the size) is on stable storage. */
  datasync(): Promise<void>;
  /** ftruncate(2) to `length` bytes. */
  truncate(length: number): Promise<void>;
  /** Current size in bytes. */
  size(): Promise<number>;
  close(): Promise<void>;
}

/** Directory and file operations of the WAL. */
export interface WalFs {
  /** mkdir -p; resolves true when it created the directory. */
  mkdirp(dir: string): Promise<boolean>;
  /** Names of the entries of `dir` (not paths). */
  list(dir: string): Promise<string[]>;
  /** Opens an existing file for reading and writing. */
  openWrite(path: string): Promise<WalFile>;
  /** Opens an existing file for reading only. */
  openRead(path: string): Promise<WalFile>;
  /** Creates a new, empty file for reading and writing; fails if it exists. */
  create(path: string): Promise<WalFile>;
  /** The whole content of a file. */
  readAll(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** fsync(2) of a directory: its entries (created, renamed, removed files) are durable. */
  syncDir(dir: string): Promise<void>;
}

class NodeWalFile implements WalFile {
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await this.fh.write(data, done, data.byteLength - done, position + done);
      done += bytesWritten;
    }
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < into.byteLength) {
      const { bytesRead } = await this.fh.read(into, done, into.byteLength - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The real file layer: `node:fs/promises`. */
export const nodeWalFs: WalFs = {
  async mkdirp(dir) {
    return (await mkdir(dir, { recursive: true })) !== undefined;
  },
  list: (dir) => readdir(dir),
  openWrite: async (path) => new NodeWalFile(path, await open(path, constants.O_RDWR)),
  openRead: async (path) => new NodeWalFile(path, await open(path, constants.O_RDONLY)),
  create: async (path) => new NodeWalFile(path, await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644)),
  readAll: (path) => readFile(path),
  rename: (from, to) => rename(from, to),
  remove: (path) => rm(path, { force: true }),
  async syncDir(dir) {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
