/**
 * The one place octopii reads error *messages*: the quinn binding gives every error the code
 * `Unknown` and quinn's Display text as its message (napi-rs `Error::from_reason`), so the text
 * is all there is to tell a refused handshake from a timeout or a reset. DESIGN.md §1 says
 * "never parse messages"; this file is the exception the binding forces on us, kept to one
 * function with the messages it was written against (quinn 0.11, rustls 0.23).
 */
import { OctopiiError, type OctopiiErrorCode } from '../../errors.js';

/**
 * Maps a binding error (code `Unknown`, quinn's Display text as message) to an OctopiiError.
 * `during` says what was going on, for errors whose text alone is ambiguous. Messages seen:
 * `aborted by peer: the cryptographic handshake failed: error 120` (ALPN mismatch),
 * `timed out`, `closed`, `closed by peer: 0`, `connection lost`, `stream reset by peer: error 0`,
 * `sending stopped by peer: error 0`.
 */
export function mapError(e: unknown, during: 'dial' | 'stream' | 'open' | 'listen'): OctopiiError {
  if (e instanceof OctopiiError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const err = (code: OctopiiErrorCode, text = msg) => new OctopiiError(code, `quinn: ${text}`, { cause: e });
  if (/handshake failed: error 120\b/.test(msg) || /no_application_protocol|NoApplicationProtocol/i.test(msg)) {
    return err('TRANSPORT_MISMATCH', `peer does not speak the quinn transport (ALPN "libp2p" refused, TLS alert 120): it probably runs the matrixai transport (ALPN "octopii/2" or "octopii"); use the same --transport on both nodes (${msg})`);
  }
  if (during === 'listen') return err('IO_ERROR');
  if (/stream reset by peer|sending stopped by peer|stopped by peer/.test(msg)) return err('STREAM_ABORTED');
  if (/handshake failed|certificate|peer doesn't implement any supported version/i.test(msg)) {
    return err(/certificate|error 4[2-9]\b|error 5[01]\b/i.test(msg) ? 'PEER_VERIFICATION_FAILED' : 'CONNECTION_REFUSED');
  }
  if (during === 'dial') {
    if (/timed out/.test(msg)) return err('CONNECT_TIMEOUT');
    if (/^closed$|endpoint stopping/.test(msg)) return err('CLOSED');
    return err('CONNECTION_REFUSED');
  }
  return err('CONNECTION_CLOSED');
}
