/**
 * The built-in `node` service every node serves (gRPC's health and reflection services in one):
 * `node.ping` (liveness, echoes a nonce), `node.info` (node ID, version, transports, uptime ms)
 * and `node.methods` (every served service with its schemas as JSON Schema).
 */
import { z } from 'zod';
import { defineService, describeService, type Handlers, type ServiceDef } from './service.js';

export const NODE_VERSION = '0.1.0';

export const nodeService = defineService('node', {
  ping: {
    input: z.object({ nonce: z.number().int().optional() }),
    output: z.object({ nonce: z.number().int().optional(), nodeId: z.string() }),
    idempotent: true,
    description: 'liveness: answers at once with the nonce it was given',
  },
  info: {
    input: z.object({}),
    output: z.object({
      nodeId: z.string(),
      version: z.string(),
      agent: z.string(),
      transports: z.array(z.string()),
      address: z.string(),
      uptimeMs: z.number(),
    }),
    idempotent: true,
    description: 'who this node is: node ID, version, transports, uptime (ms)',
  },
  methods: {
    input: z.object({}),
    output: z.object({
      services: z.array(
        z.object({
          name: z.string(),
          methods: z.array(
            z.object({
              name: z.string(),
              stream: z.enum(['unary', 'server', 'client', 'bidi']),
              idempotent: z.boolean(),
              description: z.string().optional(),
              input: z.unknown(),
              output: z.unknown(),
            }),
          ),
        }),
      ),
    }),
    idempotent: true,
    description: 'reflection: every served service and method, schemas as JSON Schema',
  },
});

export interface NodeFacts {
  nodeId: string;
  agent: string;
  transport: string;
  address: () => string;
  startedAt: number;
  now: () => number;
  services: () => ServiceDef[];
}

export function nodeHandlers(f: NodeFacts): Handlers<typeof nodeService> {
  return {
    ping: ({ nonce }) => ({ ...(nonce !== undefined ? { nonce } : {}), nodeId: f.nodeId }),
    info: () => ({
      nodeId: f.nodeId,
      version: NODE_VERSION,
      agent: f.agent,
      transports: [f.transport],
      address: f.address(),
      uptimeMs: Math.round(f.now() - f.startedAt),
    }),
    methods: () => ({ services: f.services().map(describeService) }),
  };
}
