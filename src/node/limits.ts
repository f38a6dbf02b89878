/**
 * Admission of incoming transfers (config `limits`): a bulkhead for the whole node and one per
 * peer, each an `admission` machine (machines/admission.ts: `open ⇄ saturated`) running under
 * the node's supervisor — `limits/incoming` and `<peer id>/incoming` — so a node at its limits
 * shows it in `node.inspect()`. At a limit a new transfer is refused at once (no queue: a
 * sender should not hold a stream open waiting) with RESOURCE_EXHAUSTED.
 */
import type { AnyActorLogic, AnyActorRef } from 'xstate';
import { admissionMachine } from '../../machines/admission.js';
import { OctopiiError } from '../errors.js';

export interface IncomingLimitsHost {
  spawn(id: string, logic: AnyActorLogic, input: unknown): AnyActorRef;
  child(id: string): AnyActorRef | undefined;
}

let ticketSeq = 0;

/** Sends ACQUIRE and returns whether `ref` admitted the ticket (the machine answers synchronously). */
function acquire(ref: AnyActorRef): boolean {
  const ticket = ++ticketSeq;
  let admitted: boolean | undefined;
  const subs = [
    ref.on('admit', (e: { ticket: number }) => {
      if (e.ticket === ticket) admitted = true;
    }),
    ref.on('reject', (e: { ticket: number }) => {
      if (e.ticket === ticket) admitted = false;
    }),
  ];
  ref.send({ type: 'ACQUIRE', ticket });
  for (const s of subs) s.unsubscribe();
  return admitted === true;
}

export class IncomingLimits {
  constructor(
    private readonly host: IncomingLimitsHost,
    private readonly perNode: number,
    private readonly perPeer: number,
  ) {}

  #gate(id: string, limit: number): AnyActorRef {
    const running = this.host.child(id);
    if (running && running.getSnapshot().status === 'active') return running;
    return this.host.spawn(id, admissionMachine, { limit, queueLimit: 0 });
  }

  /**
   * Admits one incoming transfer from `peerId` and returns its release, or throws
   * RESOURCE_EXHAUSTED naming the limit that was reached.
   */
  admit(peerId: string): () => void {
    const node = this.#gate('limits/incoming', this.perNode);
    if (!acquire(node)) {
      throw new OctopiiError('RESOURCE_EXHAUSTED', `this node is receiving its limit of ${this.perNode} transfers; try again later`);
    }
    const peer = this.#gate(`${peerId}/incoming`, this.perPeer);
    if (!acquire(peer)) {
      node.send({ type: 'RELEASE' });
      throw new OctopiiError('RESOURCE_EXHAUSTED', `this peer already sends its limit of ${this.perPeer} concurrent transfers; try again later`);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A gate stopped with its node (a receive that ends during stop) has nothing to release.
      for (const gate of [peer, node]) if (gate.getSnapshot().status === 'active') gate.send({ type: 'RELEASE' });
    };
  }
}
