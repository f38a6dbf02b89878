/**
 * What a Raft host applies committed entries to (Raft §5.3: "once an entry is committed, the
 * leader applies it to its state machine"). Deterministic: the same commands in the same order
 * give the same state and results on every member.
 */
export interface StateMachine<R = unknown> {
  /** Applies one committed command (an entry's `data`, never empty) and returns its result. Must not throw for a bad command: return an error result. */
  apply(command: Uint8Array, index: number): R;
  /** Serialized state covering every entry applied so far. */
  snapshot(): Uint8Array;
  /** Replaces the state with a `snapshot()`'s. Throws PROTOCOL_ERROR for bytes that are not one. */
  restore(snapshot: Uint8Array): void;
}
