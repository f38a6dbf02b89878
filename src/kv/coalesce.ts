/**
 * A writer that coalesces frames: while one write is under way, frames queue and go out
 * together in the next write (one transport write for many small answers or requests under
 * load — each stream write has a fixed cost in the transports).
 */
export class CoalescingWriter {
  #queue: Uint8Array[] = [];
  #busy = false;

  constructor(
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
    private readonly onError: (e: unknown) => void,
  ) {}

  write(frame: Uint8Array): void {
    this.#queue.push(frame);
    if (!this.#busy) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.writer.write(batch.length === 1 ? batch[0]! : concat(batch));
      }
    } catch (e) {
      this.#queue = [];
      this.onError(e);
    } finally {
      this.#busy = false;
    }
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
