/**
 * `octopii` flag parsing (src/cli.ts, src/cli/options.ts) in-process: every flag is validated
 * before a command runs, errors name the flag, and usage errors map to exit code 2.
 */
import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { buildProgram, exitCodeOf, EXIT_USAGE } from '../../src/cli.js';
import { addressArg, millisecondsArg, nodeIdArg, sizeArg } from '../../src/cli/options.js';
import { generateIdentity } from '../../src/identity.js';
import { OctopiiError } from '../../src/errors.js';

const NODE_ID = generateIdentity().nodeId;

/** Parses `args` with every command's action stubbed out; returns the error thrown and what commander wrote. */
async function parse(args: string[]): Promise<{ error?: unknown; out: string; err: string; ran?: { name: string; opts: Record<string, unknown> } }> {
  let out = '';
  let err = '';
  const program = buildProgram({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  let ran: { name: string; opts: Record<string, unknown> } | undefined;
  for (const cmd of program.commands) {
    const name = cmd.name();
    // Runs after commander's own checks (mandatory, conflicts, argParsers), like the real action would.
    cmd.action(function (this: typeof cmd) {
      ran = { name, opts: this.opts() };
    });
  }
  try {
    await program.parseAsync(['node', 'octopii', ...args]);
  } catch (error) {
    return { error, out, err, ran };
  }
  return { out, err, ran };
}

describe('flag parsers', () => {
  it('node IDs are decoded by the identity module', () => {
    expect(nodeIdArg(NODE_ID)).toBe(NODE_ID);
    for (const bad of ['hello', 'notanid', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', `${NODE_ID}x`]) {
      expect(() => nodeIdArg(bad)).toThrow(/Ed25519 node ID/);
    }
  });

  it('sizes take decimal and binary units', () => {
    expect(sizeArg('1048576')).toBe(1_048_576);
    expect(sizeArg('10MB')).toBe(10_000_000);
    expect(sizeArg('10 mb')).toBe(10_000_000);
    expect(sizeArg('1GiB')).toBe(2 ** 30);
    expect(sizeArg('64KiB')).toBe(65_536);
    expect(sizeArg('0')).toBe(0);
    for (const bad of ['', 'abc', '-1', '1e3', '0x10', '10 parsecs', 'MB', '99999999999PB']) expect(() => sizeArg(bad), bad).toThrow(/size in bytes/);
  });

  it('milliseconds are whole, positive and fit a timer', () => {
    expect(millisecondsArg('1')).toBe(1);
    expect(millisecondsArg('30000')).toBe(30_000);
    for (const bad of ['abc', '', '0', '-5', '1.5', '1e3', '2147483648', 'NaN']) expect(() => millisecondsArg(bad), bad).toThrow(/milliseconds/);
  });

  it('addresses need a port from 0 to 65535', () => {
    for (const ok of ['127.0.0.1:4000', 'localhost:0', '[::1]:4000', 'example.org:65535']) expect(addressArg(ok)).toBe(ok);
    for (const bad of ['127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', ':4000', 'host:port']) expect(() => addressArg(bad), bad).toThrow(/HOST:PORT/);
  });
});

describe('octopii send flags', () => {
  it('--to is required: no --to is a usage error naming it, nothing runs', async () => {
    const r = await parse(['send', 'file.bin']);
    expect(r.ran).toBeUndefined();
    expect(r.error).toBeInstanceOf(CommanderError);
    expect(exitCodeOf(r.error)).toBe(EXIT_USAGE);
    expect(r.err).toContain("required option '--to <host:port>' not specified");
  });

  it('repeatable --to and --peer-id collect in order, with no default', async () => {
    const one = await parse(['send', 'f', '--to', '127.0.0.1:1']);
    expect(one.error).toBeUndefined();
    expect(one.ran?.opts).toMatchObject({ to: ['127.0.0.1:1'] });
    expect(one.ran?.opts.peerId).toBeUndefined();
    const two = await parse(['send', 'f', '--to', '127.0.0.1:1', '--to', '[::1]:2', '--peer-id', NODE_ID, '--peer-id', NODE_ID, '--timeout', '2500']);
    expect(two.ran?.opts).toMatchObject({ to: ['127.0.0.1:1', '[::1]:2'], peerId: [NODE_ID, NODE_ID], timeout: 2500 });
  });

  it.each([
    [['--timeout', 'abc'], "option '--timeout <ms>' argument 'abc' is invalid"],
    [['--peer-id', 'hello'], "option '--peer-id <id>' argument 'hello' is invalid"],
    [['--transport', 'tcp'], "option '--transport <name>' argument 'tcp' is invalid"],
    [['--peer-id', NODE_ID, '--insecure'], "option '--peer-id <id>' cannot be used with option '--insecure'"],
  ])('%j is a usage error naming the flag', async (extra, message) => {
    const r = await parse(['send', 'f', '--to', '127.0.0.1:1', ...extra]);
    expect(r.ran).toBeUndefined();
    expect(exitCodeOf(r.error)).toBe(EXIT_USAGE);
    expect(r.err).toContain(message);
  });

  it('--to without a port is refused', async () => {
    const r = await parse(['send', 'f', '--to', 'example.org']);
    expect(exitCodeOf(r.error)).toBe(EXIT_USAGE);
    expect(r.err).toContain("option '--to <host:port>' argument 'example.org' is invalid");
  });
});

describe('octopii serve flags', () => {
  const base = ['serve', '--listen', '127.0.0.1:0', '--dir', '/tmp/x'];

  it('--listen and --dir are required', async () => {
    expect((await parse(['serve', '--dir', '/tmp/x'])).err).toContain("required option '--listen <host:port>' not specified");
    expect((await parse(['serve', '--listen', '127.0.0.1:0'])).err).toContain("required option '--dir <dir>' not specified");
  });

  it('--max-bytes takes a size with a unit; a bad one names the flag, not the config field', async () => {
    expect((await parse([...base, '--max-bytes', '10MB'])).ran?.opts.maxBytes).toBe(10_000_000);
    expect((await parse([...base, '--max-bytes', '1GiB'])).ran?.opts.maxBytes).toBe(2 ** 30);
    const bad = await parse([...base, '--max-bytes', '10 parsecs']);
    expect(exitCodeOf(bad.error)).toBe(EXIT_USAGE);
    expect(bad.err).toContain("option '--max-bytes <size>' argument '10 parsecs' is invalid");
    expect(bad.err).not.toContain('maxReceiveBytes');
  });

  it('--allow-peer takes node IDs only', async () => {
    expect((await parse([...base, '--allow-peer', NODE_ID])).ran?.opts.allowPeer).toEqual([NODE_ID]);
    expect((await parse([...base, '--allow-peer', 'notanid'])).err).toContain("option '--allow-peer <id>' argument 'notanid' is invalid");
  });
});

describe('help, version and exit codes', () => {
  it('--help marks required options and shows no empty defaults', async () => {
    const send = await parse(['send', '--help']);
    expect(exitCodeOf(send.error)).toBe(0);
    expect(send.out).toMatch(/--to <host:port>[\s\S]*\(required\)/);
    expect(send.out).not.toContain('(default: [])');
    const serve = await parse(['serve', '--help']);
    expect(serve.out.match(/\(required\)/g)).toHaveLength(2);
    expect(serve.out).not.toContain('(default: [])');
  });

  it('--version prints the package version', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    const r = await parse(['--version']);
    expect(exitCodeOf(r.error)).toBe(0);
    expect(r.out.trim()).toBe(version);
  });

  it('INVALID_ARGUMENT is a usage error (2); other failures are 1', () => {
    expect(exitCodeOf(new OctopiiError('INVALID_ARGUMENT', 'x'))).toBe(2);
    expect(exitCodeOf(new OctopiiError('NOT_A_DIRECTORY', 'x'))).toBe(1);
    expect(exitCodeOf(new Error('boom'))).toBe(1);
  });
});
