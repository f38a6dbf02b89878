/** WalStorage: the Raft log and hard state mirrored in memory, durable through the WAL at flush. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WalStorage } from '../../src/raft/index.js';

const e = (index: number, term: number, s = `e${index}`) => ({ index, term, data: new TextEncoder().encode(s) });
const view = (st: WalStorage) => ({ hard: st.hardState(), log: st.all().map((x) => `${x.index}/${x.term}/${new TextDecoder().decode(x.data)}`) });

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

describe('WalStorage', () => {
  it('entries and hard state flushed before a restart are recovered', async () => {
    dir = await mkdtemp(join(tmpdir(), 'octopii-walstorage-'));
    const st = await WalStorage.open(dir);
    st.append([e(1, 1), e(2, 1)]);
    st.setHardState({ term: 1, vote: 2, commit: 1 });
    await st.flush();
    await st.close();
    expect(view(await WalStorage.open(dir))).toEqual({ hard: { term: 1, vote: 2, commit: 1 }, log: ['1/1/e1', '2/1/e2'] });
  });

  it('a conflicting append replaces the tail, on disk too', async () => {
    dir = await mkdtemp(join(tmpdir(), 'octopii-walstorage-'));
    const st = await WalStorage.open(dir);
    st.append([e(1, 1), e(2, 1), e(3, 1)]);
    await st.flush();
    st.append([e(2, 2, 'new')]);
    st.setHardState({ term: 2, vote: 0, commit: 0 });
    await st.flush();
    await st.close();
    expect(view(await WalStorage.open(dir))).toEqual({ hard: { term: 2, vote: 0, commit: 0 }, log: ['1/1/e1', '2/2/new'] });
  });

  it('what was written but never flushed is not there after a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'octopii-walstorage-'));
    const st = await WalStorage.open(dir);
    st.append([e(1, 1)]);
    await st.flush();
    st.append([e(2, 1)]);
    st.setHardState({ term: 1, vote: 1, commit: 0 });
    const mirrored = st.lastIndex();
    await st.close();
    expect([mirrored, view(await WalStorage.open(dir))]).toEqual([2, { hard: { term: 0, vote: 0, commit: 0 }, log: ['1/1/e1'] }]);
  });
});
