/**
 * Structured log lines for every lane transfer of a node, from its inspection events (the lane
 * code is not touched): `transfer.started` when a lane actor starts and `transfer.finished`
 * when it reaches a final state, each on a child logger bound to `{ peer, transfer, direction }`
 * — the peer actor id (`peer:12D3…`) and the transfer's actor id (`peer:12D3…/send#3`).
 *
 *   const logger = createPinoLogger({ level: 'info' });
 *   const node = await OctopiiNode.start({ runtime: { logger } });
 *   const off = logTransfers(node, node.logger);
 *   // {"level":30,"time":…,"nodeId":"12D3…","peer":"peer:12D3…","transfer":"peer:12D3…/receive#1",
 *   //  "direction":"receive","event":"transfer.finished","outcome":"acknowledged","bytes":3145745,"durationMs":412}
 */
import { performance } from 'node:perf_hooks';
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../runtime/logger.js';
import { machineIdOf } from '../observe/events.js';

const DIRECTION: Record<string, 'send' | 'receive'> = { laneSend: 'send', laneReceive: 'receive' };

interface LaneOutput {
  status?: string;
  bytes?: number;
  size?: number | null;
  sha256?: string | null;
  error?: { code?: string; message?: string } | null;
}

/** Logs every lane transfer of `node` to `logger`. Returns an unsubscribe. */
export function logTransfers(node: { onInspect(l: (e: InspectionEvent) => void): () => void }, logger: Logger): () => void {
  const live = new Map<string, { log: Logger; t0: number }>();
  return node.onInspect((e) => {
    if (e.type === '@xstate.actor') {
      const direction = DIRECTION[machineIdOf(e.actorRef) ?? ''];
      if (!direction) return;
      const transfer = (e.actorRef as unknown as { id: string }).id;
      const slash = transfer.indexOf('/');
      const log = logger.child({ peer: slash > 0 ? transfer.slice(0, slash) : null, transfer, direction });
      live.set(e.actorRef.sessionId, { log, t0: performance.now() });
      log.info({ event: 'transfer.started' });
      return;
    }
    if (e.type !== '@xstate.snapshot') return;
    const snap = e.snapshot as { status: string; output?: LaneOutput };
    if (snap.status === 'active') return;
    const t = live.get(e.actorRef.sessionId);
    if (!t) return;
    live.delete(e.actorRef.sessionId);
    const out = snap.output;
    const outcome = snap.status === 'done' ? (out?.status ?? 'failed') : snap.status;
    const fields = {
      event: 'transfer.finished',
      outcome,
      bytes: out?.bytes ?? out?.size ?? null,
      durationMs: Math.round(performance.now() - t.t0),
      ...(out?.sha256 ? { sha256: out.sha256 } : {}),
      ...(out?.error ? { error: out.error } : {}),
    };
    if (outcome === 'acknowledged') t.log.info(fields);
    else t.log.warn(fields);
  });
}
