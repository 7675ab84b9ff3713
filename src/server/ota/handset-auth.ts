/**
 * Who may read a SIM's queue of mobile-terminated SMS: the handset that holds the SIM, proven by a
 * request signed with the SIM's handset credential (key id `handset.<ICCID>.<key version>`, the
 * secret derived from that keyset; `docs/server.md`). An unknown ICCID, a key version the SIM has
 * no keyset for, a signature by another SIM's credential and a wrong signature all get the same
 * answer, after the same work, so the answer tells nobody which ICCIDs exist.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { SimvaultError } from '../../errors.js';
import { deriveHandsetCredential, parseHandsetKeyId } from '../../protocol/handset-credential.js';
import {
  SIGNATURE_HEADERS,
  verifySignedRequest,
  type NonceStore,
  type ReceivedRequest,
} from '../auth.js';
import { ServerError } from '../errors.js';
import type { SimConfig } from './sim-config.js';

/**
 * How handset signatures are checked.
 *
 * @example
 * ```ts
 * import { memoryNonceStore } from '../auth.js';
 * import type { HandsetVerifier } from './handset-auth.js';
 * const v: HandsetVerifier = { sim: async () => undefined, nonces: memoryNonceStore() };
 * ```
 */
export interface HandsetVerifier {
  /** The SIM's configuration, `undefined` when it is not provisioned. */
  sim(iccid: string): Promise<SimConfig | undefined>;
  /** Where nonces are remembered. */
  nonces: NonceStore;
  /** Accepted clock difference, either way. */
  windowMs?: number;
  /** The clock. */
  now?: () => number;
}

/** Names nothing the request did not: for an MSISDN, the ICCID behind it stays unknown. */
function refused(): ServerError {
  return new ServerError(
    'SERVER_UNAUTHENTICATED',
    "reading a SIM's queue needs a request signed with that SIM's handset credential",
  );
}

/**
 * Check that `request` is signed with the handset credential of SIM `iccid` (`undefined`: the
 * request named a SIM that does not exist); resolves to the ICCID when it is,
 * throws `SERVER_UNAUTHENTICATED` (one message for every refusal a stranger could learn from),
 * `SERVER_STALE_REQUEST` or `SERVER_REPLAYED` (only for a correctly signed request) otherwise.
 *
 * @param request - the received request
 * @param iccid - the SIM the request names, if it exists
 * @param verifier - how to find the SIM and remember nonces
 *
 * @example
 * ```ts
 * import { verifyHandsetRequest } from './handset-auth.js';
 * const iccid = await verifyHandsetRequest(request, '89860012345678901234', verifier);
 * ```
 */
export async function verifyHandsetRequest(
  request: ReceivedRequest,
  iccid: string | undefined,
  verifier: HandsetVerifier,
): Promise<string> {
  const keyId = request.header(SIGNATURE_HEADERS.key) ?? '';
  const named = parseHandsetKeyId(keyId);
  const sim = iccid !== undefined && named?.iccid === iccid ? await verifier.sim(iccid) : undefined;
  const keyset = sim?.keysets.find((k) => k.version === named?.keyVersion);
  // Without a keyset the check still runs, under a throwaway secret that nothing can match, so a
  // stranger's request costs the same whether or not the SIM exists.
  const secret =
    keyset && named
      ? deriveHandsetCredential(named.iccid, named.keyVersion, keyset.kic, keyset.kid)
      : new Uint8Array(randomBytes(32));
  try {
    await verifySignedRequest(request, {
      keys: [{ id: keyId, secret, role: 'handset' }],
      nonces: verifier.nonces,
      ...(verifier.windowMs !== undefined ? { windowMs: verifier.windowMs } : {}),
      ...(verifier.now ? { now: verifier.now } : {}),
    });
  } catch (e) {
    if (
      e instanceof SimvaultError &&
      (e.code === 'SERVER_UNAUTHENTICATED' || e.code === 'SERVER_BAD_SIGNATURE')
    )
      throw refused();
    throw e;
  }
  // A correct signature under the throwaway secret is out of reach; this keeps it impossible.
  if (!keyset || named === undefined) throw refused();
  return named.iccid;
}
