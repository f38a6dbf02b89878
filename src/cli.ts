/**
 * The `octopii` command line, on commander:
 *
 *   octopii id    [--identity FILE] [--data-dir DIR] [--fix-permissions]
 *   octopii serve --listen HOST:PORT --dir DIR [--identity FILE] [--allow-peer ID ...] [--insecure]
 *                 [--max-bytes SIZE] [--transport T] [--config FILE] [--fix-permissions]
 *                 [--observe [HOST:PORT]] [--observe-token T] [--log-level L]
 *   octopii send  FILE --to HOST:PORT [--to ...] [--peer-id ID ... | --insecure] [--json]
 *                 [--timeout MS] [--identity FILE] [--transport T] [--config FILE] [--fix-permissions]
 *   octopii share PATH… [--listen HOST:PORT] [--advertise HOST:PORT] [--store DIR] [--tag T] [--json]
 *                 [--block-size SIZE] [--max-upload-rate[-per-peer] RATE] [--no-compress]
 *   octopii get   TICKET… [--dir DIR] [--store DIR] [--tag T] [--json] [--window N]
 *                 [--max-download-rate[-per-peer] RATE] [--no-compress]
 *   octopii blobs list | add PATH… [--block-size SIZE] | rm TAG… | gc   [--store DIR] [--json]
 *   octopii call  SERVICE.METHOD ['{json}'] --to HOST:PORT --peer-id ID [--deadline MS]
 *   octopii methods --to HOST:PORT --peer-id ID
 *   octopii cluster init|start --nodes N --dir DIR [--observe] | cluster run CONFIG [--observe [HOST:PORT]] | cluster status --dir DIR
 *   octopii kv put KEY VALUE | get KEY | del KEY | cas KEY EXPECTED|- VALUE  --dir DIR
 *   octopii config print [--config FILE]
 *   octopii machines [--format mermaid|dot|json] [--out DIR]
 *   octopii observe --nodes URL,URL [--listen HOST:PORT]
 *   octopii replay FILE [--listen HOST:PORT]
 *   octopii --version | --help
 *
 * Every flag is parsed and validated here, before any command starts (src/cli/options.ts).
 * Each command lives in src/cli/<name>.ts and is imported only when it runs, and the node
 * runtime (QUIC, hash pool, machines) only by the commands that start a node: `id` and `--help`
 * load commander, config and identity alone.
 *
 * Exit codes: 0 success; 1 the command failed (`octopii: CODE: message` on stderr, CODE from
 * src/errors.ts; `send`: a receiver did not verify the file); 2 usage or configuration error (a
 * missing or invalid flag, named in the message; INVALID_ARGUMENT from the config).
 */
import { Command, CommanderError, Help, InvalidArgumentError, Option, type OutputConfiguration } from 'commander';
import { readFileSync } from 'node:fs';
import { toOctopiiError } from './errors.js';
import { addressArg, blockSizeArg, millisecondsArg, nodeIdArg, positiveSizeArg, repeatable, sizeArg, tagArg, ticketArg, windowArg } from './cli/options.js';
import type { BlobTicket } from './blobs/ticket.js';

/** Exit code of a usage or configuration error. */
export const EXIT_USAGE = 2;

/** This package's version, from the package.json above this file (src/ or a build's dist/src/). */
function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'octopii' && pkg.version) return pkg.version;
    } catch {
      // try the next one
    }
  }
  return 'unknown';
}

const transportOption = () => new Option('--transport <name>', 'node-to-node transport (default: quinn, or $OCTOPII_TRANSPORT)').choices(['quinn', 'matrixai']);
const identityOption = () => new Option('--identity <file>', 'identity file, Ed25519 PKCS#8 PEM, mode 0600 (default: <data-dir>/identity.pem)');
const dataDirOption = () => new Option('--data-dir <dir>', 'node data directory (default: ~/.octopii, or $OCTOPII_DATA_DIR)');
const fixPermissionsOption = () => new Option('--fix-permissions', 'chmod the identity file to 0600 if group or others can access it, instead of refusing it');
const storeOption = () => new Option('--store <dir>', 'blob store directory (default: <data-dir>/blobs)');
const configOption = () => new Option('--config <file>', 'JSON config file (src/config.ts schema); flags and OCTOPII_* env vars override it');

/**
 * The `octopii` program. Errors surface as CommanderError (exitOverride); {@link exitCodeOf} maps
 * them to exit codes. `output` replaces commander's stdout/stderr writers (tests capture them).
 */
export function buildProgram(output: OutputConfiguration = {}): Command {
  const program = new Command('octopii')
    .configureOutput(output)
    .description('Supervised nodes that ship verified files over QUIC (Shipping Lane v1)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({
      // Commander enforces mandatory options but does not show them in the help: say "(required)".
      optionDescription(this: Help, option: Option) {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    })
    .exitOverride();

  program
    .command('id')
    .description("print this node's ID (creates the identity file if missing)")
    .addOption(identityOption())
    .addOption(dataDirOption())
    .addOption(fixPermissionsOption())
    .action(async (opts) => {
      const { runId } = await import('./cli/id.js');
      await runId(opts);
    });

  program
    .command('serve')
    .description('receive transfers into DIR, printing one JSON line per event')
    .addOption(new Option('--listen <host:port>', 'address to listen on (port 0 = any free port)').argParser(addressArg).makeOptionMandatory())
    .requiredOption('--dir <dir>', 'directory to store received files in, named by their SHA-256 (created if missing; must be writable)')
    .addOption(identityOption())
    .addOption(dataDirOption())
    .addOption(new Option('--allow-peer <id>', 'admit only this node ID (repeatable; default: any peer that proves an identity)').argParser(repeatable(nodeIdArg)))
    .option('--insecure', 'also admit peers without a verifiable identity (seed v1 interop)')
    .addOption(new Option('--max-bytes <size>', 'largest accepted transfer: bytes, or a size like 10MB (10^7) or 1GiB (2^30) (default: 64GiB)').argParser(sizeArg))
    .addOption(configOption())
    .addOption(transportOption())
    .addOption(fixPermissionsOption())
    .addOption(
      new Option('--observe [host:port]', 'serve the live inspector, /metrics and /health here (default 127.0.0.1:0; non-loopback needs --observe-token)').argParser(addressArg),
    )
    .option('--observe-token <token>', 'bearer token the observe endpoint requires (needed for a non-loopback --observe)')
    .addOption(new Option('--log-level <level>', 'log lines on stderr from this level (pino JSON, pretty on a terminal; default info, or OCTOPII_LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async (opts) => {
      const { runServe } = await import('./cli/serve.js');
      await runServe(opts);
    });

  const rpcOptions = (c: Command) =>
    c
      .addOption(new Option('--to <host:port>', 'the node to call').argParser(addressArg).makeOptionMandatory())
      .addOption(new Option('--peer-id <id>', "the node's ID (verified)").argParser(nodeIdArg).makeOptionMandatory())
      .addOption(new Option('--deadline <ms>', 'deadline of the call in ms (default 30000; methods: 10000)').argParser(millisecondsArg))
      .addOption(identityOption())
      .addOption(transportOption());
  type RpcFlags = { to: string; peerId: string; deadline?: number; identity?: string; transport?: 'quinn' | 'matrixai' };
  const rpcCli = (o: RpcFlags) => ({
    to: o.to,
    peerId: o.peerId,
    ...(o.transport ? { transport: o.transport } : {}),
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.deadline ? { deadlineMs: o.deadline } : {}),
  });
  const rpcIo = { out: (l: string) => void process.stdout.write(`${l}\n`), err: (l: string) => void process.stderr.write(`${l}\n`) };

  rpcOptions(
    program
      .command('call')
      .description('call SERVICE.METHOD on a node with JSON input; prints the result as JSON (streams as JSON lines)')
      .argument('<method>', 'SERVICE.METHOD, e.g. node.ping')
      .argument('[json]', 'the input as JSON (default {}); streaming inputs come as JSON lines on stdin'),
  ).action(async (method: string, json: string | undefined, o: RpcFlags) => {
    const { runCall } = await import('./cli/call.js');
    process.exitCode = await runCall(rpcCli(o), method, json, rpcIo);
  });

  rpcOptions(program.command('methods').description("list a node's services and methods, with their schemas as JSON Schema")).action(async (o: RpcFlags) => {
    const { runMethods } = await import('./cli/call.js');
    process.exitCode = await runMethods(rpcCli(o), rpcIo);
  });

  const cluster = program.command('cluster').description('run a local Raft KV cluster (members verified by node ID; each keeps its WAL in its dir)');
  const nodesOption = () =>
    new Option('--nodes <n>', 'number of members').argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 15) throw new InvalidArgumentError('expected a whole number from 1 to 15');
      return n;
    }).default(3);
  cluster
    .command('init')
    .description('create identities and one config per member under DIR (prints the config paths)')
    .addOption(nodesOption())
    .requiredOption('--dir <dir>', 'cluster directory')
    .action(async (o: { nodes: number; dir: string }) => {
      const { clusterInit } = await import('./cli/cluster.js');
      for (const p of await clusterInit({ nodes: o.nodes, dir: o.dir })) process.stdout.write(`${p}\n`);
    });
  cluster
    .command('start')
    .description('init, then run every member as its own process; one JSON line per member (id, nodeId, address, pid, config); stops them on SIGINT/SIGTERM')
    .addOption(nodesOption())
    .requiredOption('--dir <dir>', 'cluster directory')
    .option('--observe', "serve each member's observe endpoint on 127.0.0.1 (any free port; its URL is in the member's line)")
    .action(async (o: { nodes: number; dir: string; observe?: boolean }) => {
      const { main: clusterMain } = await import('./cli/cluster.js');
      process.exitCode = await clusterMain(['start', '--nodes', String(o.nodes), '--dir', o.dir, ...(o.observe ? ['--observe'] : [])]);
    });
  cluster
    .command('run')
    .description("run one member from its config (prints its JSON line; until SIGINT/SIGTERM)")
    .argument('<config>', 'member config written by cluster init')
    .addOption(new Option('--observe [host:port]', 'serve the inspector, /metrics (with Raft and WAL metrics) and /health here (default 127.0.0.1:0)').argParser(addressArg))
    .option('--observe-token <token>', 'bearer token the observe endpoint requires (needed for a non-loopback --observe)')
    .addOption(new Option('--log-level <level>', 'log lines on stderr from this level (pino; default: none, or OCTOPII_LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async (config: string, o: { observe?: string | boolean; observeToken?: string; logLevel?: string }) => {
      const { main: clusterMain } = await import('./cli/cluster.js');
      const observe = o.observe === undefined ? [] : ['--observe', typeof o.observe === 'string' ? o.observe : '127.0.0.1:0'];
      const extra = [...(o.observeToken !== undefined ? ['--observe-token', o.observeToken] : []), ...(o.logLevel !== undefined ? ['--log-level', o.logLevel] : [])];
      process.exitCode = await clusterMain(['run', config, ...observe, ...extra]);
    });
  cluster
    .command('status')
    .description('members, leader, term, commit index and applied index, as JSON')
    .requiredOption('--dir <dir>', 'cluster directory')
    .action(async (o: { dir: string }) => {
      const { clusterStatus } = await import('./cli/cluster.js');
      process.stdout.write(`${JSON.stringify(await clusterStatus({ dir: o.dir }))}\n`);
    });

  const kv = program.command('kv').description('linearizable reads and writes on a cluster (prints one JSON line)');
  const kvOp = (name: string, args: string[], description: string) => {
    const c = kv.command(name).description(description);
    for (const a of args) c.argument(`<${a}>`);
    c.requiredOption('--dir <dir>', 'cluster directory (its members are read from there)').action(async (...all: unknown[]) => {
      const values = all.slice(0, args.length) as string[];
      const o = all[args.length] as { dir: string };
      const { kvCommand } = await import('./cli/kv.js');
      process.stdout.write(`${JSON.stringify(await kvCommand(name, values, o.dir))}\n`);
    });
  };
  kvOp('put', ['key', 'value'], 'set KEY to VALUE');
  kvOp('get', ['key'], 'read KEY (linearizable)');
  kvOp('del', ['key'], 'delete KEY');
  kvOp('cas', ['key', 'expected', 'value'], "set KEY to VALUE if it holds EXPECTED ('-' = absent)");

  program
    .command('config')
    .description('show configuration')
    .command('print')
    .description('print the effective configuration and where each value came from (option, env, file, default)')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      const { explainConfig } = await import('./config.js');
      for (const e of explainConfig({}, { file: opts.config })) process.stdout.write(`${JSON.stringify(e)}\n`);
    });

  program
    .command('machines')
    .description("write every machine's state chart (node supervisor, peer, lanes) as Mermaid, DOT or JSON")
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot', 'json']).default('mermaid'))
    .option('--out <dir>', 'write one file per machine into DIR (default: print to stdout)')
    .action(async (opts: { format: 'mermaid' | 'dot' | 'json'; out?: string }) => {
      const { machinesCommand } = await import('./cli/machines.js');
      await machinesCommand({ format: opts.format, ...(opts.out ? { out: opts.out } : {}) });
    });

  program
    .command('observe')
    .description("serve the inspector's cluster view over several nodes' observe endpoints")
    .addOption(new Option('--nodes <urls>', 'comma-separated observe URLs, e.g. http://127.0.0.1:9101,http://127.0.0.1:9102').makeOptionMandatory())
    .addOption(new Option('--listen <host:port>', 'loopback address for the page (default 127.0.0.1:0)').argParser(addressArg))
    .action(async (opts: { nodes: string; listen?: string }) => {
      const { observeCommand } = await import('./cli/observe.js');
      await observeCommand({ nodes: opts.nodes.split(',').filter(Boolean), ...(opts.listen ? { address: opts.listen } : {}) });
    });

  program
    .command('replay')
    .description('serve the inspector page stepping through a flight recording (play, pause, step, seek)')
    .argument('<file>', 'recording written by the flight recorder')
    .addOption(new Option('--listen <host:port>', 'loopback address for the page (default 127.0.0.1:0)').argParser(addressArg))
    .action(async (file: string, opts: { listen?: string }) => {
      const { replayCommand } = await import('./cli/replay.js');
      await replayCommand({ file, ...(opts.listen ? { address: opts.listen } : {}) });
    });

  program
    .command('share')
    .description('add files and directories to the blob store as one collection, print a ticket, and serve it until SIGINT/SIGTERM')
    .argument('<path...>', 'files and directories to share (each under its own name)')
    .addOption(new Option('--listen <host:port>', 'address to listen on (default 0.0.0.0:0: all interfaces, any free port)').argParser(addressArg))
    .addOption(new Option('--advertise <host:port>', 'address to put in the ticket (default: the listen address; for a wildcard listen, the first non-loopback IPv4 address)').argParser(addressArg))
    .addOption(storeOption())
    .addOption(new Option('--tag <name>', 'tag that keeps the collection in the store (default: share-<name of the first path>)').argParser(tagArg))
    .option('--json', 'print one JSON line (ticket, root, files, bytes, nodeId, address) instead of the bare ticket')
    .addOption(new Option('--block-size <size>', 'block size of the blobs added: a power of two from 16KiB to 16MiB, e.g. 256KiB (default: config blobs.blockSize, else 1MiB; the same file at another block size is another blob)').argParser(blockSizeArg))
    .addOption(new Option('--max-upload-rate <size>', 'cap on what this node uploads in all, bytes per second or a size like 10MB (10^7 B/s) or 1MiB (default: config blobs.maxUploadRate, else none)').argParser(positiveSizeArg))
    .addOption(new Option('--max-upload-rate-per-peer <size>', 'cap on what this node uploads to each fetcher, bytes per second or a size like 2MB (default: config blobs.maxUploadRatePerPeer, else none)').argParser(positiveSizeArg))
    .option('--no-compress', 'send every block as it is, even to fetchers that accept brotli (compression pays on links slower than ~100 MB/s; on a fast LAN it costs CPU)')
    .addOption(identityOption())
    .addOption(dataDirOption())
    .addOption(configOption())
    .addOption(transportOption())
    .addOption(fixPermissionsOption())
    .action(async (paths: string[], opts) => {
      const { runShare } = await import('./cli/share.js');
      await runShare(paths, opts);
    });

  program
    .command('get')
    .description('fetch what a ticket names (resuming, every block verified, from all its providers at once) and write the files under DIR')
    .argument('<ticket...>', 'ticket printed by `octopii share`; several tickets for the same content pool their providers')
    .option('--dir <dir>', 'where to write the files (default: the current directory)')
    .addOption(storeOption())
    .addOption(new Option('--tag <name>', 'tag that keeps the fetched collection in the store (default: get-<first 16 hex of the root>)').argParser(tagArg))
    .option('--json', 'print JSON lines (manifest, progress, done|failed) on stdout')
    .option('--no-compress', 'ask providers for blocks as they are (no brotli): on a fast LAN decompressing costs more CPU than the bytes it saves')
    .addOption(new Option('--window <blocks>', 'block writes in flight per blob and provider before reading pauses, 1 to 1024 (default: config blobs.fetchWindow, else 4)').argParser(windowArg))
    .addOption(new Option('--max-download-rate <size>', 'cap on what this run downloads in all, bytes per second or a size like 10MB (10^7 B/s) or 1MiB (default: config blobs.maxDownloadRate, else none)').argParser(positiveSizeArg))
    .addOption(new Option('--max-download-rate-per-peer <size>', 'cap on what this run downloads from each provider, bytes per second or a size like 2MB (default: config blobs.maxDownloadRatePerPeer, else none)').argParser(positiveSizeArg))
    .addOption(identityOption())
    .addOption(dataDirOption())
    .addOption(configOption())
    .addOption(transportOption())
    .addOption(fixPermissionsOption())
    .action(async (tickets: string[], opts) => {
      // Commander runs argument parsers on variadic arguments one by one only with a previous value: decode here.
      const decoded: BlobTicket[] = [];
      for (const t of tickets) {
        try {
          decoded.push(ticketArg(t));
        } catch (e) {
          program.error(`error: argument '${t.length > 40 ? `${t.slice(0, 40)}…` : t}' is invalid. ${(e as Error).message}`, { exitCode: EXIT_USAGE, code: 'octopii.badTicket' });
        }
      }
      const { runGet } = await import('./cli/get.js');
      process.exitCode = await runGet(decoded, opts);
    });

  const blobs = program.command('blobs').description("manage the node's blob store (no node is started)");
  const blobsCommand = (name: 'list' | 'add' | 'rm' | 'gc', description: string, arg?: string) => {
    const c = blobs.command(name).description(description);
    if (arg) c.argument(arg);
    c.addOption(storeOption()).addOption(dataDirOption()).addOption(configOption()).option('--json', 'print JSON lines');
    if (name === 'add') {
      c.addOption(new Option('--tag <name>', 'tag for the collection (default: add-<name of the first path>)').argParser(tagArg));
      c.addOption(new Option('--block-size <size>', 'block size of the blobs added: a power of two from 16KiB to 16MiB, e.g. 256KiB (default: config blobs.blockSize, else 1MiB; the same file at another block size is another blob)').argParser(blockSizeArg));
    }
    return c.action(async (...all: unknown[]) => {
      const args = (arg ? all[0] : []) as string[];
      const opts = all[arg ? 1 : 0] as import('./cli/blobs.js').BlobsOptions;
      const { runBlobs } = await import('./cli/blobs.js');
      await runBlobs(name, args, opts);
    });
  };
  blobsCommand('list', 'list every blob, complete or partial (verified blocks), with its size and tags');
  blobsCommand('add', 'add files and directories as one collection (as share does, without serving); prints its root', '<path...>');
  blobsCommand('rm', "remove tags (a collection's tag takes its members' tags along), then delete the blobs no tag names", '<tag...>');
  blobsCommand('gc', 'delete every blob, complete or partial, that no tag names');

  program
    .command('send')
    .description('ship FILE to one or more nodes in parallel; exit 0 only if every receiver verified the SHA-256')
    .argument('<file>', 'file to send')
    .addOption(new Option('--to <host:port>', 'receiver address (repeatable: ships to all in parallel)').argParser(repeatable(addressArg)).makeOptionMandatory())
    .addOption(
      new Option('--peer-id <id>', 'refuse the receiver unless it proves this node ID (repeatable: one per --to, in --to order)')
        .argParser(repeatable(nodeIdArg))
        .conflicts('insecure'),
    )
    .option('--insecure', 'accept a receiver without a verifiable identity (seed v1 interop)')
    .option('--json', 'print the TransferResult as JSON (an array when several --to are given)')
    .addOption(identityOption())
    .addOption(dataDirOption())
    .addOption(
      new Option('--timeout <ms>', 'give up on a receiver that makes no progress for this many ms; also caps each connect attempt (at most 5000 ms each)').argParser(
        millisecondsArg,
      ),
    )
    .addOption(configOption())
    .addOption(transportOption())
    .addOption(fixPermissionsOption())
    .action(async (file: string, opts, cmd: Command) => {
      const to: string[] = opts.to;
      const peerIds: string[] = opts.peerId ?? [];
      if (peerIds.length > 0 && peerIds.length !== to.length) {
        cmd.error(`error: got ${to.length} --to but ${peerIds.length} --peer-id: give one --peer-id per --to, or none`, {
          exitCode: EXIT_USAGE,
          code: 'octopii.peerIdCount',
        });
      }
      const { runSend } = await import('./cli/send.js');
      process.exitCode = await runSend(file, opts);
    });
  return program;
}

/**
 * Runs the CLI on `argv` (`process.argv` shape) and returns the exit code (see the file header).
 * Errors print as `octopii: CODE: message` on stderr; commander prints its own usage errors.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (!(e instanceof CommanderError)) {
      const err = toOctopiiError(e);
      process.stderr.write(`octopii: ${err.code}: ${err.message}\n`);
    }
    return exitCodeOf(e);
  }
}

/**
 * Exit code for what a command threw: 0 for commander's help and --version, 2 ({@link EXIT_USAGE})
 * for every other commander error (missing or invalid flag) and for INVALID_ARGUMENT, 1 otherwise.
 */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
  return toOctopiiError(e).code === 'INVALID_ARGUMENT' ? EXIT_USAGE : 1;
}
