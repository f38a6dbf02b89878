/**
 * The runnable examples (README "RPC"): each is run as a user would (`npx tsx examples/X.ts`,
 * real QUIC on 127.0.0.1) and what it prints is checked.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runExample(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], { cwd: ROOT, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('examples', () => {
  it('rpc-file-server: request → lane transfer → confirm, path traversal refused', async () => {
    const r = await runExample('rpc-file-server');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^received 3145728 bytes, sha256 ([0-9a-f]{16})… verified \(expected \1…\)$/);
    expect(lines[1]).toMatch(/^server saw confirm: report\.bin [0-9a-f]{16}…$/);
    expect(lines.slice(2)).toEqual(['request "../secret" → PERMISSION_DENIED', 'request "/etc/passwd" → PERMISSION_DENIED', 'request "a/../../x" → PERMISSION_DENIED']);
  });

  it('rpc-push: the server pushes three notifications, the phone shows them in order', async () => {
    const r = await runExample('rpc-push');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.replace(/12D3KooW\w+…/g, 'ID…'));
    expect(lines).toEqual([
      'server: phone ID… is alive',
      'phone: [build] main is green — from ID…',
      'phone: [mail] 2 new messages (2) — from ID…',
      'phone: [calendar] stand-up in 5 min — from ID…',
    ]);
  });

  it('rpc-sync: the peers exchange block-hash lists and ship only the missing blocks', async () => {
    const r = await runExample('rpc-sync');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^A had 200 blocks, B lacked (\d+); shipped \1 over the lane in \d+ ms; in sync: true$/);
  });
});
