/**
 * A child process for the WAL's kill -9 test: opens the WAL in `argv[2]` (segments of `argv[3]`
 * bytes), then appends entries forever from `concurrency` (`argv[4]`) concurrent appenders, and
 * prints one line per acknowledged call on stdout: `a <index>` for an entry, `h <commit>` for a
 * hard state (one every 50 entries). The parent SIGKILLs it and checks that every printed line
 * survived. Entry data is the index in decimal, padded to 100 bytes.
 *
 *   node --import tsx test/helpers/walChild.ts <dir> <segmentBytes> <concurrency>
 */
import { Wal } from '../../src/wal/index.js';
import { entryData } from './walFixtures.js';

const [dir, segmentBytes, concurrency] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const { wal, recovered } = await Wal.open(dir, { segmentBytes });
let next = wal.lastIndex + 1;
let commit = recovered.hardState.commit;
const term = recovered.hardState.term + 1;
process.stdout.write(`ready ${wal.lastIndex}\n`);

async function appender(): Promise<never> {
  for (;;) {
    const index = next++;
    await wal.append([{ index, term, data: entryData(index) }]);
    process.stdout.write(`a ${index}\n`);
    if (index % 50 === 0 && index > commit) {
      commit = index;
      await wal.setHardState({ term, vote: 'child', commit: index });
      process.stdout.write(`h ${index}\n`);
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, appender));
