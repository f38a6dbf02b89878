/** src/log/pino.ts: JSON lines with the bound node, peer and transfer; level; pretty. */
import { describe, expect, it } from 'vitest';
import { createPinoLogger } from '../../src/log/pino.js';

function sink(isTTY = false) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (s: string) => void lines.push(s) } };
}

describe('pino logger', () => {
  it('writes one JSON line with the bindings of every child', () => {
    const { lines, stream } = sink();
    const log = createPinoLogger({ destination: stream });
    log.child({ nodeId: '12D3KooWA' }).child({ peer: 'peer:12D3KooWB', transfer: 'send#3' }).info({ event: 'sent', bytes: 42 }, 'sent');
    const { time, ...rest } = JSON.parse(lines[0]!);
    expect([typeof time, rest]).toEqual(['number', { level: 30, nodeId: '12D3KooWA', peer: 'peer:12D3KooWB', transfer: 'send#3', event: 'sent', bytes: 42, msg: 'sent' }]);
  });

  it('ends every line with a newline', () => {
    const { lines, stream } = sink();
    createPinoLogger({ destination: stream }).warn({ event: 'x' });
    expect(lines[0]!.endsWith('}\n')).toBe(true);
  });

  it('leaves out lines under the level', () => {
    const { lines, stream } = sink();
    const log = createPinoLogger({ destination: stream, level: 'warn' });
    log.info({ event: 'quiet' });
    log.error({ event: 'loud' });
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['loud']);
  });

  it('writes debug lines at level debug', () => {
    const { lines, stream } = sink();
    createPinoLogger({ destination: stream, level: 'debug' }).debug({ event: 'd' });
    expect(JSON.parse(lines[0]!).level).toBe(20);
  });

  it('prints human-readable lines when pretty', () => {
    const { lines, stream } = sink();
    createPinoLogger({ destination: stream, pretty: true }).child({ nodeId: 'N1' }).info({ event: 'listening' }, 'hello');
    const text = lines.join('');
    expect([text.includes('INFO'), text.includes('hello'), text.includes('nodeId: "N1"'), text.trimStart().startsWith('{')]).toEqual([true, true, true, false]);
  });

  it('is pretty by default on a TTY', () => {
    const { lines, stream } = sink(true);
    createPinoLogger({ destination: stream }).info({}, 'on a terminal');
    expect(lines.join('').trimStart().startsWith('{')).toBe(false);
  });

  it('refuses an unknown level', () => {
    expect(() => createPinoLogger({ level: 'loud' as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
