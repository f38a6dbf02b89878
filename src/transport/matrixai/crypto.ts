/** The HMAC and random-bytes callbacks @matrixai/quic needs from its host. */
import { createHmac, timingSafeEqual, randomBytes, webcrypto } from 'node:crypto';

/** Server-side cookie/token crypto the library needs (HMAC-SHA256 with a per-node random key). */
export function serverCrypto() {
  const key = randomBytes(32);
  const sign = async (k: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> => {
    const mac = createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
    return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.byteLength);
  };
  return {
    key: key.buffer.slice(key.byteOffset, key.byteOffset + key.byteLength),
    ops: {
      sign,
      async verify(k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer): Promise<boolean> {
        const want = Buffer.from(await sign(k, data));
        const got = Buffer.from(sig);
        return got.byteLength === want.byteLength && timingSafeEqual(got, want);
      },
    },
  };
}

export const clientCrypto = {
  ops: {
    async randomBytes(data: ArrayBuffer): Promise<void> {
      webcrypto.getRandomValues(new Uint8Array(data));
    },
  },
};
