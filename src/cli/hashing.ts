/**
 * SHA-256 threads of the `serve` and `send` commands when config `hashThreads`
 * (`OCTOPII_HASH_THREADS`) is unset: 0 — each transfer's hash runs on the event loop
 * (node:crypto, src/hash/pool.ts), not in a worker. A lane transfer is one sequential hash, so a
 * worker buys no parallelism for it, while every 1 MiB job posted to it costs a message and a
 * thread wake-up on both sides, and the worker is another V8 isolate (~10 MiB of RSS). Measured
 * with `npm run bench:cli-vs-quinn` (bench/README.md, "hash threads"): less CPU per GiB on both
 * sides. The cost: the loop is held ~0.6 ms per MiB hashed (a receiver hashes each network chunk
 * of at most 256 KiB as it arrives, ≤ ~0.2 ms at a time). A node embedded as a library keeps
 * its worker (src/node/support.ts `NODE_HASH_THREADS`).
 */
export const CLI_HASH_THREADS = 0;
