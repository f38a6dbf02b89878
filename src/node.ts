/** The node facade (see ./node/node.ts). */
export * from './node/node.js';
export { waitConnected } from './node/support.js';
