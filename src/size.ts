/**
 * Sizes in bytes as people write them, for flags and `OCTOPII_*` variables (on `bytes-iec`).
 *
 *   parseSize('1048576') === 1_048_576;  parseSize('10MB') === 10_000_000;  parseSize('1GiB') === 2 ** 30
 */
import bytes from 'bytes-iec';

/**
 * Parses a size in bytes: a whole number (`1048576`) or a number with a unit, decimal (`kB`, `MB`,
 * `GB`, `TB`: powers of 1000) or binary (`KiB`, `MiB`, `GiB`, `TiB`: powers of 1024); case and a
 * space before the unit are ignored; a fraction of a byte is dropped (`1.5kB` = 1500).
 * Returns undefined for anything else: negative, not a number, an unknown unit, above 2^53 − 1.
 */
export function parseSize(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+(\.\d+)?\s*[a-z]*$/i.test(t)) return undefined;
  let n: number | null;
  try {
    n = bytes.parse(t, { mode: 'metric' });
  } catch {
    return undefined; // unknown unit
  }
  return n !== null && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
