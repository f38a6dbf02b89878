/**
 * Node.js command-line flags an octopii process should run with. `bin/octopii.js` carries them
 * in its shebang; the demo, the benches and the CLI tests start their node processes with them.
 * A library user who receives at high rates should start node with them too
 * (`node --initial-old-space-size=64 --max-semi-space-size=1 --expose-gc app.js`); nothing breaks without them.
 *
 * `--initial-old-space-size=64` (MiB): every read of the quinn binding (src/transport/quinn.ts)
 * returns a fresh external ArrayBuffer, and V8 counts external memory allocated since the last
 * mark-compact against the old generation's allocation limit — about 26 MB on the ~10 MB heap
 * of a node. A receiver at 150–200 MB/s therefore ran a full mark-compact every ~50 ms (~80 per
 * GiB, pauses of 3–13 ms). Measured with `npm run bench -- --size 1GiB --transports quinn`
 * (2 cores, loopback): receiver CPU 6.5–6.8 → 5.5–5.7 s/GiB and receiver event-loop delay p99
 * 10–13 → mostly 3.5–5 ms with the flag; RSS above idle about the same (40–55 MiB), as young buffers are
 * still freed by scavenges. V8 takes this flag only on the command line: NODE_OPTIONS refuses it
 * and `v8.setFlagsFromString` after start-up has no effect on the heap's limits.
 *
 * `--max-semi-space-size=1` (MiB): the young generation's semi-spaces grow up to 16 MiB each
 * (V8's default on 64-bit) while the quinn reads allocate buffers; capped at 1 MiB, scavenges
 * run more often on less memory. `octopii serve` idle RSS 71.5 → 67.7 MiB; with the 2 MiB quinn
 * windows and one hash thread, growth on a 1 GiB receive 84–93 → 44 MiB (`npm run
 * bench:memory`), at the same throughput within the noise of the shared 2-core machine.
 *
 * `--expose-gc`: gives `octopii serve` V8's `gc`, which src/runtime/idleCollector.ts calls once
 * the process is idle after a burst: with the 64 MiB initial old generation above, an idle
 * process would otherwise never run the mark-compact that frees what the burst promoted (after
 * 1,000 stalled streams on @matrixai/quic, RSS stayed +31.7 MiB over its level before them).
 */
export const NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=1', '--expose-gc'];
