/**
 * Running a KV cluster of octopii members (each a process on QUIC):
 *
 *   clusterInit({ nodes: 3, dir })      → <dir>/m<i>/identity.pem, <dir>/m<i>/config.json (members with node IDs and addresses)
 *   runMember(configPath, { observe })   → runs one member (WAL in <dir>/m<i>/wal) until stopped; with
 *                                          `observe` (`host:port`) it serves the observe endpoint there
 *                                          (page, /metrics with the Raft and WAL metrics, /health with role/term/commit)
 *   clusterStart({ nodes: 3, dir, observe }) → both, as N child processes; prints one JSON line per member
 *                                          (with `observe: true`, each member's line has its `observe` URL)
 *   clusterStatus({ dir })              → each member's role, term, commit and applied index, and the leader
 *
 * Peers are verified by node ID (each member dials the others with the node ID of its config).
 * Run with tsx: `tsx src/cli/cluster.ts init|start|run|status …` (see `main`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OctopiiError } from '../errors.js';
import { generateIdentity, loadOrCreateIdentity } from '../identity.js';
import { KvClient, KvServer, KvStateMachine } from '../kv/index.js';
import { createPinoLogger, type LogLevel } from '../log/pino.js';
import type { Logger } from '../runtime/logger.js';
import { OctopiiNode } from '../node/node.js';
import { RaftHost, type RaftMember } from '../raft/index.js';

/** One member's config file (JSON). */
export interface MemberConfig {
  /** This member's Raft ID. */
  self: number;
  listen: string;
  identityFile: string;
  /** WAL directory. */
  walDir: string;
  members: RaftMember[];
  /** Tick length, ms (default 100) and election timeout in ticks (default 10). */
  tickMs?: number;
  electionTick?: number;
}

export interface ClusterInitOptions {
  nodes: number;
  dir: string;
  host?: string;
  /** First UDP port; default: free ports chosen now. */
  basePort?: number;
  tickMs?: number;
  electionTick?: number;
}

async function freeUdpPort(host: string): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r, j) => s.bind(0, host, () => r()).once('error', j));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Creates identities and one config per member; returns the config paths. Throws INVALID_ARGUMENT for nodes < 1. */
export async function clusterInit(o: ClusterInitOptions): Promise<string[]> {
  if (!Number.isInteger(o.nodes) || o.nodes < 1) throw new OctopiiError('INVALID_ARGUMENT', `cluster: nodes must be a positive integer, got ${o.nodes}`);
  const dir = resolve(o.dir);
  const host = o.host ?? '127.0.0.1';
  const members: RaftMember[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const mdir = join(dir, `m${i}`);
    await mkdir(mdir, { recursive: true });
    const id = await loadOrCreateIdentity(join(mdir, 'identity.pem'));
    const port = o.basePort ? o.basePort + i - 1 : await freeUdpPort(host);
    members.push({ id: i, nodeId: id.nodeId, address: `${host}:${port}` });
  }
  const paths: string[] = [];
  for (const m of members) {
    const mdir = join(dir, `m${m.id}`);
    const cfg: MemberConfig = { self: m.id, listen: m.address, identityFile: join(mdir, 'identity.pem'), walDir: join(mdir, 'wal'), members, ...(o.tickMs ? { tickMs: o.tickMs } : {}), ...(o.electionTick ? { electionTick: o.electionTick } : {}) };
    const p = join(mdir, 'config.json');
    await writeFile(p, JSON.stringify(cfg, null, 2) + '\n');
    paths.push(p);
  }
  return paths;
}

export async function readMemberConfig(path: string): Promise<MemberConfig> {
  const cfg = JSON.parse(await readFile(path, 'utf8')) as MemberConfig;
  if (!Number.isInteger(cfg.self) || !Array.isArray(cfg.members) || typeof cfg.listen !== 'string') throw new OctopiiError('INVALID_ARGUMENT', `${path}: not a member config`);
  return cfg;
}

export interface RunningMember {
  node: OctopiiNode;
  host: RaftHost;
  /** The observe endpoint's page URL (`http://127.0.0.1:PORT/`), when started with `observe`. */
  observe?: string;
  stop(): Promise<void>;
}

export interface RunMemberOptions {
  /** Serve the observe endpoint on this `host:port` (src/observe/server.ts; loopback unless `observeToken`). */
  observe?: string;
  observeToken?: string;
  /** Log lines on stderr from this level (pino, src/log/pino.ts; default: none). `info` shows each new leader (`raft.leader`). */
  logLevel?: LogLevel;
  /** A logger of one's own instead (tests); wins over `logLevel`. */
  logger?: Logger;
}

/** Runs the member of `configPath` in this process. Throws the node's and the WAL's start errors, and the observe endpoint's (INVALID_ARGUMENT, EADDRINUSE). */
export async function runMember(configPath: string, options: RunMemberOptions = {}): Promise<RunningMember> {
  const cfg = await readMemberConfig(configPath);
  const identity = await loadOrCreateIdentity(cfg.identityFile);
  const logger = options.logger ?? (options.logLevel !== undefined && options.logLevel !== 'silent' ? createPinoLogger({ level: options.logLevel }) : undefined);
  const node = await OctopiiNode.start({
    identity,
    listen: cfg.listen,
    dataDir: dirname(cfg.identityFile),
    peer: { maxRetries: 1_000_000, retryInitialMs: 100 },
    ...(logger ? { runtime: { logger } } : {}),
  });
  const sm = new KvStateMachine();
  const host = await RaftHost.open({ node, dir: cfg.walDir, self: cfg.self, members: cfg.members, stateMachine: sm, tickMs: cfg.tickMs ?? 100, electionTick: cfg.electionTick ?? 10 });
  const server = new KvServer({ node, host, stateMachine: sm });
  let observer: { url: string; close(): Promise<void> } | undefined;
  if (options.observe !== undefined) {
    const { serveObserve } = await import('./observe.js');
    try {
      observer = await serveObserve(node, { address: options.observe, raft: host, write: null, ...(options.observeToken !== undefined ? { token: options.observeToken } : {}) });
    } catch (e) {
      server.close();
      await host.stop();
      await node.stop();
      throw e;
    }
  }
  return {
    node,
    host: host as RaftHost,
    ...(observer ? { observe: observer.url } : {}),
    async stop() {
      await observer?.close();
      server.close();
      await host.stop();
      await node.stop();
    },
  };
}

/** A client node (ephemeral identity) and a KvClient for the cluster whose config is in `dir`/m1. */
export async function clusterClient(dir: string, options: { timeoutMs?: number } = {}): Promise<{ client: KvClient; node: OctopiiNode; members: RaftMember[]; close(): Promise<void> }> {
  const cfg = await readMemberConfig(join(resolve(dir), 'm1', 'config.json'));
  const node = await OctopiiNode.start({ identity: generateIdentity(), listen: '127.0.0.1:0', dataDir: resolve(dir) });
  const client = new KvClient({ node, members: cfg.members, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  return { client, node, members: cfg.members, close: async () => (client.close(), await node.stop()) };
}

export interface MemberStatus {
  id: number;
  nodeId: string;
  address: string;
  role?: string;
  term?: number;
  commit?: number;
  applied?: number;
  lead?: number;
  error?: string;
}

/** Each member's status and the leader (the one most members name). */
export async function clusterStatus(o: { dir: string; timeoutMs?: number }): Promise<{ leader: number | null; members: MemberStatus[] }> {
  const c = await clusterClient(o.dir);
  try {
    const members = await Promise.all(
      c.members.map(async (m): Promise<MemberStatus> => {
        try {
          const s = (await c.client.status(m.id, { timeoutMs: o.timeoutMs ?? 2000 })) as { role: string; term: number; commit: number; applied: number; lead: number };
          return { ...m, role: s.role, term: s.term, commit: s.commit, applied: s.applied, lead: s.lead };
        } catch (e) {
          return { ...m, error: (e as Error).message };
        }
      }),
    );
    const leader = members.find((m) => m.role === 'leader')?.id ?? null;
    return { leader, members };
  } finally {
    await c.close();
  }
}

export interface StartedMember {
  id: number;
  nodeId: string;
  address: string;
  pid: number;
  config: string;
  /** Observe endpoint URL (members started with `observe`). */
  observe?: string;
  process: ChildProcess;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Spawns `cluster.{js,ts} run <config>` for one member (the build's JavaScript when this runs
 * from dist/, else the source through tsx, resolved from this package so any working directory
 * works); resolves when it printed its ready line.
 */
export function spawnMember(config: string, options: { observe?: boolean } = {}): Promise<StartedMember> {
  // OCTOPII_MEMBER_NODE_ARGS: extra node flags for member processes (e.g. `--cpu-prof`).
  const extra = (process.env.OCTOPII_MEMBER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const built = join(here, 'cluster.js');
  const entry = existsSync(built) ? [built] : ['--import', import.meta.resolve('tsx'), join(here, 'cluster.ts')];
  const child = spawn(process.execPath, [...extra, ...entry, 'run', resolve(config), ...(options.observe ? ['--observe', '127.0.0.1:0'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveP, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      try {
        const line = JSON.parse(buf.slice(0, nl)) as Omit<StartedMember, 'process'>;
        resolveP({ ...line, process: child });
      } catch (e) {
        reject(e);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new OctopiiError('UNAVAILABLE', `member ${config} exited with ${code} before it was ready`)));
  });
}

/** `clusterInit` then one process per member; prints one JSON line per member (id, nodeId, address, pid, config). */
export async function clusterStart(o: ClusterInitOptions & { observe?: boolean; print?: (line: string) => void }): Promise<StartedMember[]> {
  const configs = await clusterInit(o);
  const started = await Promise.all(configs.map((c) => spawnMember(c, { observe: o.observe === true })));
  for (const m of started) (o.print ?? console.log)(JSON.stringify({ id: m.id, nodeId: m.nodeId, address: m.address, pid: m.pid, config: m.config, ...(m.observe ? { observe: m.observe } : {}) }));
  return started;
}

const USAGE = 'usage: cluster.ts init|start --nodes N --dir DIR [--observe] | run CONFIG [--observe HOST:PORT] [--observe-token T] [--log-level L] | status --dir DIR';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Command line: `tsx src/cli/cluster.ts <init|start|run|status> …`. Returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  const dir = flag(rest, '--dir');
  const nodes = Number(flag(rest, '--nodes') ?? 3);
  if (cmd === 'init' && dir) {
    for (const p of await clusterInit({ nodes, dir })) console.log(p);
    return 0;
  }
  if (cmd === 'start' && dir) {
    const ms = await clusterStart({ nodes, dir, observe: rest.includes('--observe') });
    await new Promise<void>((r) => {
      const stop = () => {
        for (const m of ms) m.process.kill('SIGTERM');
        r();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  }
  if (cmd === 'run' && rest[0]) {
    const observe = rest.includes('--observe') ? (flag(rest, '--observe')?.startsWith('--') === false ? flag(rest, '--observe')! : '127.0.0.1:0') : undefined;
    const token = flag(rest, '--observe-token');
    // OCTOPII_LOG_LEVEL reaches members `cluster start` spawns (they inherit the environment).
    const logLevel = (flag(rest, '--log-level') ?? process.env.OCTOPII_LOG_LEVEL) as LogLevel | undefined;
    const m = await runMember(rest[0], {
      ...(observe !== undefined ? { observe } : {}),
      ...(token !== undefined ? { observeToken: token } : {}),
      ...(logLevel !== undefined ? { logLevel } : {}),
    });
    const cfg = await readMemberConfig(rest[0]);
    console.log(JSON.stringify({ id: cfg.self, nodeId: m.node.nodeId, address: m.node.address, pid: process.pid, config: resolve(rest[0]), ...(m.observe ? { observe: m.observe } : {}) }));
    await new Promise<void>((r) => {
      process.once('SIGINT', () => r());
      process.once('SIGTERM', () => r());
    });
    await m.stop();
    return 0;
  }
  if (cmd === 'status' && dir) {
    console.log(JSON.stringify(await clusterStatus({ dir })));
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(String(e));
      process.exit(1);
    },
  );
}
