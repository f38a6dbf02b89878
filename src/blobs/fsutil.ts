/** Small filesystem helpers of the blob store: existence, a write made durable, a directory fsync. */
import { open, stat } from 'node:fs/promises';

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes `bytes` to a new `path` and fdatasyncs it, on one file handle. */
export async function writeFileSynced(path: string, bytes: Uint8Array, before: () => void): Promise<void> {
  before();
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the renames are still atomic
  } finally {
    await fh.close();
  }
}
