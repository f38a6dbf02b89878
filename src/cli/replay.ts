/**
 * `octopii replay FILE [--listen 127.0.0.1:0]`: serves the inspector page stepping through a
 * flight recording (src/observe/recorder.ts) — play, pause, step, seek, speed — until SIGINT or
 * SIGTERM. Prints `{"event":"replaying","url","nodeId","events"}` on stdout.
 *
 * Exported for src/cli.ts to wire as a subcommand:
 *   program.command('replay <file>').option('--listen <host:port>').action((file, o) => replayCommand({ file, address: o.listen }))
 */
import { readRecording } from '../observe/recorder.js';
import { startReplayServer, type ReplayServer } from '../observe/replayServer.js';

export interface ReplayCommandOptions {
  /** Recording to serve. */
  file: string;
  /** Loopback `host:port` (default `127.0.0.1:0`). */
  address?: string;
  /** Resolve once serving instead of waiting for a signal (tests, embedding). */
  detach?: boolean;
  write?: (line: string) => void;
}

/**
 * Serves the recording; resolves with the server (when `detach`) or after a signal, closed.
 * Throws INVALID_ARGUMENT for a file that is not a recording or a non-loopback address.
 */
export async function replayCommand(options: ReplayCommandOptions): Promise<ReplayServer> {
  const write = options.write ?? ((l: string) => void process.stdout.write(l));
  const recording = await readRecording(options.file);
  const server = await startReplayServer(recording, { address: options.address });
  write(`${JSON.stringify({ event: 'replaying', url: server.url, nodeId: recording.header.nodeId, events: recording.events.length })}\n`);
  if (options.detach) return server;
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
  return server;
}
