// Runs ELK layouts off the event loop (src/observe/layout.ts): one message { graphs } in,
// { outs } or { error } back. Plain JS so it starts without a TypeScript loader.
import { parentPort } from 'node:worker_threads';
import ELK from 'elkjs/lib/elk.bundled.js';

const elk = new ELK();
parentPort.on('message', async ({ graphs }) => {
  try {
    const outs = [];
    for (const g of graphs) outs.push(await elk.layout(g));
    parentPort.postMessage({ outs });
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message ? e.message : e) });
  }
});
