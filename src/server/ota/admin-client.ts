/**
 * An HTTP client of the OTA server's operator endpoints, so provisioning tools never sign
 * requests by hand: every call is signed with the operator key, answers come back typed, and a
 * refusal is the server's typed error (`OtaError` or `ServerError` with its stable
 * code; `IoError` `IO_UNREACHABLE` when the server cannot be reached).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ArgumentError } from '../../errors.js';
import type { Zone } from '../../protocol/messages.js';
import type { SigningKey } from '../auth.js';
import { sendRequest } from '../signed-fetch.js';
import type { FileInfo } from './files.js';
import type { QueuedPacket } from './relay.js';
import type { ProvisionedSim, SimConfigInput } from './sim-config.js';
import type { CounterRecord } from './store.js';

/**
 * Options of {@link OtaAdminClient}.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import type { OtaAdminClientOptions } from 'simvault/server';
 * const o: OtaAdminClientOptions = {
 *   baseUrl: 'http://127.0.0.1:8081',
 *   operatorKey: { id: 'operator', secret: randomBytes(32), role: 'operator' },
 * };
 * ```
 */
export interface OtaAdminClientOptions {
  /** The OTA server's base URL. */
  baseUrl: string;
  /** The `operator` key every request is signed with (from the deployment's keys file). */
  operatorKey: SigningKey;
}

/**
 * A SIM to provision: its ICCID and the configuration the OTA server keeps for it. The `ota`
 * half of `personalizeSim`'s result (`simvault/sim`) is one.
 *
 * @example
 * ```ts
 * import type { SimProvisioning } from 'simvault/server';
 * const sim: SimProvisioning = {
 *   iccid: '89860012345678901234', tar: 'b00010',
 *   keysets: [{ version: 1, algorithm: 'aes', kic: '00'.repeat(16), kid: '11'.repeat(16) }],
 * };
 * ```
 */
export interface SimProvisioning extends SimConfigInput {
  /** The SIM's ICCID, 10-20 digits. */
  iccid: string;
}

/**
 * A SIM as the OTA server reports it: its configuration (keys left out), its counters and the
 * last position of its message queue.
 *
 * @example
 * ```ts
 * import type { SimStatus } from 'simvault/server';
 * const mo = (s: SimStatus) => s.counters.find((c) => c.direction === 'mo')?.value ?? 0;
 * ```
 */
export interface SimStatus extends ProvisionedSim {
  /** The replay counters per key version and direction. */
  counters: CounterRecord[];
  /** The queue position of the last SMS queued for the SIM (0: none yet). */
  lastSeq: number;
}

/**
 * One card of a SIM Toolkit list pushed to a SIM: the card and the applications its menu offers.
 *
 * @example
 * ```ts
 * import type { StkListCard } from 'simvault/server';
 * const card: StkListCard = {
 *   cid: '035344535531364780c0ffee185a0000',
 *   applications: [{ aid: 'a0000000871001', name: 'Mobile TV', zone: 'multimedia' }],
 * };
 * ```
 */
export interface StkListCard {
  /** The card's 16-byte CID register, hex. */
  cid: string;
  /** Its applications, in menu order. */
  applications: {
    /** AID, 5-16 bytes of hex. */
    aid: string;
    /** Menu name. */
    name: string;
    /** The card zone the application's file lives in. */
    zone: Zone;
    /** `active` (default) or another application state of `simvault/protocol`. */
    state?: string;
  }[];
}

/**
 * What a push of a SIM Toolkit list queued: the secured packet for the SIM and the list version
 * it carries.
 *
 * @example
 * ```ts
 * import type { StkListPush } from 'simvault/server';
 * const line = (p: StkListPush) => `list v${p.listVersion} as counter ${p.counter}`;
 * ```
 */
export interface StkListPush extends QueuedPacket {
  /** The list version the SIM will hold after applying it. */
  listVersion: number;
}

/**
 * A file stored on the OTA server, with the URL handsets download it from.
 *
 * @example
 * ```ts
 * import type { UploadedFile } from 'simvault/server';
 * const resource = (f: UploadedFile) => ({ url: f.url, digest: f.sha256, size: f.size });
 * ```
 */
export interface UploadedFile extends FileInfo {
  /** The download path, `/v1/files/NAME`. */
  path: string;
  /** The full download URL on this server. */
  url: string;
}

/**
 * A client of the OTA server's operator endpoints (`/v1/admin/...`): provision SIMs, push their
 * SIM Toolkit lists, and manage the application files handsets download.
 *
 * Every method rejects with an `OtaError` or `ServerError` carrying the server's
 * stable code (`OTA_UNKNOWN_SIM`, `SERVER_BAD_REQUEST`, `SERVER_BAD_SIGNATURE`, ...), or an
 * `IoError` `IO_UNREACHABLE` when the server cannot be reached.
 *
 * @example
 * ```ts
 * import { OtaAdminClient, loadOrCreateKeys } from 'simvault/server';
 * const keys = await loadOrCreateKeys('./simvault-data/keys.json');
 * const admin = new OtaAdminClient({
 *   baseUrl: 'http://127.0.0.1:8081',
 *   operatorKey: keys.find((k) => k.role === 'operator')!,
 * });
 * const file = await admin.uploadFile('tv-2.1.bin', new Uint8Array(4096));
 * console.log(file.url, file.sha256);
 * ```
 */
export class OtaAdminClient {
  private readonly base: string;
  private readonly key: SigningKey;

  /**
   * Create a client; `ArgumentError` when the key is not an `operator` key.
   *
   * @param options - the server's URL and the operator key
   */
  constructor(options: OtaAdminClientOptions) {
    if (options.operatorKey.role !== 'operator')
      throw new ArgumentError(
        `operatorKey: key '${options.operatorKey.id}' has role ${options.operatorKey.role}; the OTA admin endpoints take an operator key`,
      );
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.key = options.operatorKey;
  }

  private async json<T>(method: string, path: string, value?: unknown): Promise<T> {
    const body = value === undefined ? undefined : new TextEncoder().encode(JSON.stringify(value));
    const res = await sendRequest({
      method,
      url: `${this.base}${path}`,
      key: this.key,
      ...(body !== undefined ? { body, contentType: 'application/json' } : {}),
    });
    return (await res.json()) as T;
  }

  /**
   * Provision a SIM, or replace its configuration (its counters are kept).
   *
   * @returns the SIM as stored, and whether it was new
   */
  async putSim(sim: SimProvisioning): Promise<{
    /** The SIM as stored. */ sim: ProvisionedSim;
    /** Whether it was new. */ created: boolean;
  }> {
    const { iccid, ...config } = sim;
    const body = new TextEncoder().encode(JSON.stringify(config));
    const res = await sendRequest({
      method: 'PUT',
      url: `${this.base}/v1/admin/sims/${encodeURIComponent(iccid)}`,
      key: this.key,
      body,
      contentType: 'application/json',
    });
    return { sim: (await res.json()) as ProvisionedSim, created: res.status === 201 };
  }

  /** A provisioned SIM with its counters; `OTA_UNKNOWN_SIM` when there is none. */
  getSim(iccid: string): Promise<SimStatus> {
    return this.json('GET', `/v1/admin/sims/${encodeURIComponent(iccid)}`);
  }

  /** Forget a SIM (its queue and counters too); `OTA_UNKNOWN_SIM` when there is none. */
  async deleteSim(iccid: string): Promise<void> {
    await this.json('DELETE', `/v1/admin/sims/${encodeURIComponent(iccid)}`);
  }

  /**
   * Push a SIM Toolkit list to a SIM (remote file management): the server queues it as a secured
   * packet the handset delivers on its next poll.
   *
   * @param iccid - the SIM
   * @param cards - the cards and applications its menu should offer
   * @param transactionId - the message's transaction id (default: the new list version)
   */
  pushStkList(
    iccid: string,
    cards: readonly StkListCard[],
    transactionId?: number,
  ): Promise<StkListPush> {
    return this.json('POST', `/v1/admin/sims/${encodeURIComponent(iccid)}/stk-list`, {
      cards,
      ...(transactionId !== undefined ? { transactionId } : {}),
    });
  }

  /**
   * Store an application file for handsets to download (replacing one of the same name). The
   * request is signed over the content's SHA-256, which the server checks while it stores.
   *
   * @param name - the file's name in URLs: 1-128 of `A-Z a-z 0-9 . _ -`
   * @param content - the file
   * @param contentType - its media type (default `application/octet-stream`)
   */
  async uploadFile(
    name: string,
    content: Uint8Array,
    contentType = 'application/octet-stream',
  ): Promise<UploadedFile> {
    const sha256 = createHash('sha256').update(content).digest('hex');
    const res = await sendRequest({
      method: 'PUT',
      url: `${this.base}/v1/admin/files/${encodeURIComponent(name)}?sha256=${sha256}`,
      key: this.key,
      body: content,
      contentType,
      signEmptyBody: true,
    });
    const stored = (await res.json()) as Omit<UploadedFile, 'url'>;
    return { ...stored, url: `${this.base}${stored.path}` };
  }

  /** The stored application files. */
  listFiles(): Promise<FileInfo[]> {
    return this.json('GET', '/v1/admin/files');
  }

  /** Remove an application file; `OTA_UNKNOWN_FILE` when there is none. */
  async deleteFile(name: string): Promise<void> {
    await this.json('DELETE', `/v1/admin/files/${encodeURIComponent(name)}`);
  }
}
