/**
 * @matrixai/quic errors → OctopiiError codes, by error class and QUIC/TLS code (never by
 * message), and the stream reset codes octopii puts on the wire (RESET_STREAM / STOP_SENDING).
 */
import { errors as quicErrors } from '@matrixai/quic';
import { OctopiiError, type OctopiiErrorCode } from '../../errors.js';
import { ALPN } from './alpn.js';

/** TLS alert codes offset by 0x100 (RFC 9001 §4.8), the library's `CryptoError`. */
/** QUIC CRYPTO_ERROR codes: 0x100 + TLS alert (RFC 9001 §4.8). 376 = no_application_protocol (120). */
export const CryptoAlert = { BadCertificate: 298, UnsupportedCertificate: 299, AccessDenied: 305, NoApplicationProtocol: 376 } as const;

/** Stream reset codes on the wire (RESET_STREAM / STOP_SENDING). */
export const StreamCode = { ABORTED: 1, CONNECTION_CLOSED: 2 } as const;

const errorName = (e: unknown): string => (e instanceof Error ? e.constructor.name : typeof e);

/** Error code of a TLS alert a connection error carries, if any. */
function cryptoCode(e: unknown): number | undefined {
  const data = (e as { data?: { errorCode?: number } } | undefined)?.data;
  const code = data?.errorCode;
  return typeof code === 'number' && code >= 0x100 && code <= 0x1ff ? code : undefined;
}

/** Maps a library connection-level error to an OctopiiError (`alpn`: what we offered, client side). */
export function mapConnectionError(e: unknown, refusal?: OctopiiError, alpn?: string): OctopiiError {
  if (e instanceof OctopiiError) return e;
  if (refusal) return refusal;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof quicErrors.ErrorQUICConnectionPeerTLS) {
    const code = cryptoCode(e);
    if (code === CryptoAlert.NoApplicationProtocol) {
      // The peer speaks another ALPN: a node on the quinn transport (ALPN `libp2p`), or a seed
      // v1 peer (`octopii` only) asked for `octopii/2`.
      return new OctopiiError('TRANSPORT_MISMATCH',
        `peer does not speak ALPN "${alpn ?? `${ALPN.octopii}" or "${ALPN['lane-v1']}`}" — a node on another transport (--transport quinn) or a Shipping Lane v1 peer (protocol 'lane-v1'); ${msg}`, { cause: e });
    }
    const verification = code === CryptoAlert.BadCertificate || code === CryptoAlert.AccessDenied ||
      code === CryptoAlert.UnsupportedCertificate || code === 372 /* CertificateRequired */;
    return new OctopiiError(verification ? 'PEER_VERIFICATION_FAILED' : 'CONNECTION_REFUSED',
      `peer refused the TLS handshake (${msg})`, { cause: e });
  }
  if (e instanceof quicErrors.ErrorQUICConnectionLocalTLS) {
    return new OctopiiError('PEER_VERIFICATION_FAILED', `peer certificate refused (${msg})`, { cause: e });
  }
  if (e instanceof quicErrors.ErrorQUICConnectionIdleTimeout) {
    return new OctopiiError('CONNECTION_CLOSED', 'connection idle timeout', { cause: e });
  }
  if (e instanceof quicErrors.ErrorQUICConnectionPeer) {
    return new OctopiiError('CONNECTION_CLOSED', `peer closed the connection (${msg})`, { cause: e });
  }
  return new OctopiiError('CONNECTION_CLOSED', `connection closed (${errorName(e)}: ${msg})`, { cause: e });
}

/** Stream reset code for a local cancel reason (sent to the peer). */
export function reasonToCode(_type: 'read' | 'write', reason?: unknown): number {
  return reason instanceof OctopiiError && reason.code === 'CONNECTION_CLOSED' ? StreamCode.CONNECTION_CLOSED : StreamCode.ABORTED;
}

/** The error a stream read/write rejects with when the peer resets / stops it. */
export function codeToReason(type: 'read' | 'write', code: number): OctopiiError {
  const code_: OctopiiErrorCode = code === StreamCode.CONNECTION_CLOSED ? 'CONNECTION_CLOSED' : 'STREAM_ABORTED';
  return new OctopiiError(code_, `peer ${type === 'read' ? 'reset' : 'stopped'} the stream (code ${code})`);
}
