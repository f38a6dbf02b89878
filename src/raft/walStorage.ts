/**
 * A {@link RaftStorage} over the write-ahead log (src/wal/): an in-memory mirror of the log (a
 * {@link LogMirror}) and hard state that the core reads synchronously, made durable by one
 * group-committed `wal.save({ entries, hardState })` — one fdatasync — per Ready (etcd's
 * `MemoryStorage` in front of its `WAL`, Raft §5 Figure 2 "persistent state ... updated on stable
 * storage before responding to RPCs").
 *
 *   const storage = await WalStorage.open('/var/lib/octopii/raft');   // recovers the log
 *   const raw = new RawNode({ id, voters, storage, hardState: storage.hardState() });
 *   // per Ready: storage.setHardState(rd.hardState); storage.append(rd.entries);
 *   // if (rd.mustSync) await storage.flush();   then send rd.messages (before the flush when rd.sendBeforeSync)
 *
 * `sync()` (the synchronous interface method) starts the save and remembers a failure;
 * {@link WalStorage.flush} is the awaitable form the driver uses. Votes are stored as decimal
 * strings in the WAL (its `vote` is a string), 0 as null.
 *
 * Errors: `flush` rejects with the WAL's codes (DISK_FULL, IO_ERROR, PERMISSION_DENIED, CLOSED);
 * after a failure nothing written since the last successful flush is durable, and the next
 * `flush` writes it all again. INTERNAL for an append that leaves a gap.
 */
import { OctopiiError } from '../errors.js';
import { Wal, type WalOptions } from '../wal/index.js';
import type { HardState as WalHardState } from '../wal/index.js';
import type { Entry, HardState } from '../../machines/raft.js';
import { LogMirror } from './logMirror.js';
import type { RaftStorage } from './storage.js';

const toWal = (hs: HardState): WalHardState => ({ term: hs.term, vote: hs.vote === 0 ? null : String(hs.vote), commit: hs.commit });
const fromWal = (hs: WalHardState): HardState => ({ term: hs.term, vote: hs.vote === null ? 0 : Number(hs.vote), commit: hs.commit });
const sameHard = (a: HardState, b: HardState) => a.term === b.term && a.vote === b.vote && a.commit === b.commit;

export class WalStorage extends LogMirror implements RaftStorage {
  readonly #wal: Wal;
  #hard: HardState;
  #durableHard: HardState;
  /** Lowest index appended since the last successful flush (Infinity: none). */
  #dirtyFrom = Infinity;
  #flushing: Promise<void> = Promise.resolve();
  #lastError: unknown = undefined;

  private constructor(wal: Wal, entries: Entry[], hard: HardState) {
    super('raft storage', entries);
    this.#wal = wal;
    this.#hard = this.#durableHard = hard;
  }

  /** Opens (creating) the WAL in `dir` and mirrors what it recovered. Throws the WAL's open errors (WAL_CORRUPT, IO_ERROR…). */
  static async open(dir: string, options: WalOptions = {}): Promise<WalStorage> {
    const { wal, recovered } = await Wal.open(dir, options);
    if (recovered.snapshot) {
      await wal.close();
      throw new OctopiiError('INVALID_ARGUMENT', `raft storage: ${dir} holds a snapshot marker; log compaction is not supported yet`);
    }
    const entries = recovered.entries.map((e) => ({ index: e.index, term: e.term, data: e.data }));
    return new WalStorage(wal, entries, fromWal(recovered.hardState));
  }

  get wal(): Wal {
    return this.#wal;
  }

  override append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    super.append(entries);
    this.#dirtyFrom = Math.min(this.#dirtyFrom, entries[0]!.index);
  }

  hardState(): HardState {
    return this.#hard;
  }

  setHardState(hs: HardState): void {
    this.#hard = hs;
  }

  /** Starts a flush; a failure is kept for {@link WalStorage.lastError}. */
  sync(): void {
    this.flush().catch((e) => (this.#lastError = e));
  }

  /** The error of the last failed `sync()`, if the next flush has not succeeded since. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /**
   * Makes everything written so far durable: one `wal.save` (one fdatasync) with the entries
   * appended since the last flush and the hard state. Flushes run one at a time, in call order.
   */
  flush(): Promise<void> {
    const run = this.#flushing.catch(() => undefined).then(() => this.#flushNow());
    this.#flushing = run;
    return run;
  }

  async #flushNow(): Promise<void> {
    const from = this.#dirtyFrom;
    const entries = from === Infinity ? [] : this.all().slice(from - 1);
    const hard = this.#hard;
    const hardChanged = !sameHard(hard, this.#durableHard);
    if (entries.length === 0 && !hardChanged) {
      // A truncation with nothing after it: cut the WAL's tail too.
      if (from !== Infinity && from <= (this.#wal.lastIndex ?? 0)) await this.#wal.truncateFrom(from);
      this.#dirtyFrom = Infinity;
      return;
    }
    this.#dirtyFrom = Infinity;
    try {
      await this.#wal.save({ entries, ...(hardChanged ? { hardState: toWal(hard) } : {}) });
      this.#durableHard = hard;
      this.#lastError = undefined;
    } catch (e) {
      this.#dirtyFrom = Math.min(this.#dirtyFrom, from);
      throw e;
    }
  }

  close(): Promise<void> {
    return this.#wal.close();
  }
}
