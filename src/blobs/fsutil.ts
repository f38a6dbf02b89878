/** Small filesystem helpers of the blob store: existence, a write made durable, a directory fsync. */
import { open, stat, writeFile } from 'node:fs/promises';

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function writeFileSynced(path: string, bytes: Uint8Array, before: () => void): Promise<void> {
  before();
  await writeFile(path, bytes);
  const fh = await open(path, 'r+');
  try {
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
