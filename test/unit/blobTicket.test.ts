/** Blob tickets (src/blobs/ticket.ts): golden string, round trip, malformed refused. */
import { describe, expect, it } from 'vitest';
import { decodeTicket, encodeTicket } from '../../src/blobs/ticket.js';
import { nodeIdFromPublicKey } from '../../src/identity.js';

const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i);
const ID = nodeIdFromPublicKey(new Uint8Array(32).fill(7));
const TICKET = { root: ROOT, providers: [{ nodeId: ID, address: '10.0.0.1:4000' }] };

describe('blob tickets', () => {
  it('encodes a root with one provider as a stable string', () => {
    expect(encodeTicket(TICKET)).toBe(
      'blobaeaacaqdaqcqmbyibefawdanbyhraeiscmkbkfqxdamrugy4dupb6aiha4dqobyha4dqobyha4dqobyha4dqobyha4dqobyha4dqobyha4gtcmbogaxdalrrhi2dambq',
    );
  });

  it('decodes what it encodes', () => {
    expect(decodeTicket(encodeTicket(TICKET))).toEqual(TICKET);
  });

  it('refuses a string without the prefix', () => {
    expect(() => decodeTicket('nope')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('refuses a truncated ticket', () => {
    const s = encodeTicket(TICKET);
    expect(() => decodeTicket(s.slice(0, s.length - 8))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('refuses an address that is not printable ASCII', () => {
    expect(() => encodeTicket({ root: ROOT, providers: [{ nodeId: ID, address: 'a b:1' }] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
