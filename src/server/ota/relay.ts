/**
 * The OTA relay: what an SMS centre plus an OTA platform do between SIMs and the card application
 * server (patent steps 306-309, 401-404, 501-503, 601-604, and RFM of claim 3).
 *
 * From a SIM: a mobile-originated SMS-SUBMIT is reassembled (in the store, so the segments of
 * one message may reach different processes), its secured packet opened with the
 * SIM's keyset under the SIM's TAR and minimum security level, its counter checked against and
 * recorded in the store, and the simvault message inside forwarded to the card application
 * server. The reply message goes back as a secured command packet with the next counter, framed
 * as SMS-DELIVER segments in the SIM's mobile-terminated queue. A proof of receipt from the SIM is
 * verified against the command packet it answers; "counter low/high" resynchronises the counter
 * and sends the message again.
 *
 * Only packets whose checksum verified earn a PoR to the SIM: a forged packet gets its refusal
 * (with the PoR status) in the HTTP answer and causes no traffic to the SIM.
 *
 * @module
 */
import { fromHex, toHex } from '../../bytes.js';
import { SimvaultError } from '../../errors.js';
import {
  decodeMessage,
  encodeMessage,
  type SimvaultMessage,
  type StkCard,
} from '../../protocol/messages.js';
import {
  buildCommandPacket,
  buildResponsePacket,
  checkCounter,
  CounterRejectedError,
  decodeKeyIndicator,
  decodeSecuredPacketStructure,
  decodeSpi,
  encodeSpi,
  openCommandPacket,
  openResponsePacket,
  porStatusForError,
  type CommandPacket,
  type PorStatus,
  type ResponsePacket,
} from '../../protocol/secured-packet.js';
import type { SmsAddress } from '../../protocol/sms.js';
import type { CardAppClient } from '../card-app/client.js';
import type { CompletionOutcome } from '../card-app/service.js';
import { ServerError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { OtaError, type OtaErrorCode } from './errors.js';
import { StoredReassembler } from './mo-reassembly.js';
import { MtNotifier } from './mt-notifier.js';
import { otaKeysOf, type SimConfig } from './sim-config.js';
import { deliverTpdus, submitUserData } from './sms-frames.js';
import type { MtItem, OtaStore, SentPacket } from './store.js';

/**
 * The card application server calls the relay makes: {@link CardAppClient} against a real server.
 *
 * @example
 * ```ts
 * import { CardAppClient } from '../card-app/client.js';
 * import type { CardAppForwarder } from './relay.js';
 * const forwarder: CardAppForwarder = new CardAppClient({ baseUrl: 'http://127.0.0.1:8080', otaKey });
 * ```
 */
export type CardAppForwarder = Pick<
  CardAppClient,
  'bind' | 'unbind' | 'launch' | 'complete' | 'delete'
>;

/**
 * Options of {@link OtaRelay}.
 *
 * @example
 * ```ts
 * import type { OtaRelayOptions } from './relay.js';
 * const o: OtaRelayOptions = { originator: { ton: 0, npi: 1, digits: '10658' }, mtTtlMs: 86_400_000 };
 * ```
 */
export interface OtaRelayOptions {
  /** TP-OA of mobile-terminated SMS: the OTA server's short code (default national `10658`). */
  originator?: SmsAddress;
  /** How long queued SMS wait for their handset (default 24 h). */
  mtTtlMs?: number;
  /** How long the segments of a concatenated MO message wait for the rest (default 120 s). */
  reassemblyTimeoutMs?: number;
  /** Concatenated MO messages held per SIM, partial or recently completed; the oldest goes beyond (default 32). */
  reassemblyMessagesPerSim?: number;
  /** How long a process that completed a concatenated message has to relay it before another may (default 30 000 ms). */
  reassemblyClaimMs?: number;
  /** Counter jump on "counter low" when the PoR does not report the SIM's counter (default 256). */
  resyncStep?: number;
  /** How many times one message is sent (first sending included) after counter refusals (default 3). */
  maxAttempts?: number;
  /** Structured log sink (default silent). */
  log?: Logger;
  /** The clock (default `Date.now`). */
  now?: () => number;
}

/**
 * Where a message sent to a SIM went: its packet's counter and its SMS in the queue.
 *
 * @example
 * ```ts
 * import type { QueuedPacket } from './relay.js';
 * const q: QueuedPacket = { type: 'bindResponse', transactionId: 1, keyVersion: 1, counter: 3, seqs: [5, 6] };
 * ```
 */
export interface QueuedPacket {
  /** Message type inside (`por` for a proof of receipt). */
  type: string;
  /** Transaction id of the message (0 for a PoR). */
  transactionId: number;
  /** Key version of the counter. */
  keyVersion: number;
  /** The packet's counter (for a PoR: the counter it answers). */
  counter: number;
  /** Queue positions of its SMS-DELIVER segments. */
  seqs: number[];
}

/**
 * What became of one mobile-originated SMS.
 *
 * @example
 * ```ts
 * import type { MoOutcome } from './relay.js';
 * const describe = (o: MoOutcome) => o.status === 'incomplete' ? `${o.received}/${o.total}` : o.kind;
 * ```
 */
export type MoOutcome =
  | {
      /** More segments are needed. */
      status: 'incomplete';
      /** Concatenation reference. */
      reference: number;
      /** Segments held. */
      received: number;
      /** Segments announced. */
      total: number;
      /** The segment repeats one already held (or one of a message already relayed) and was ignored. */
      duplicate: boolean;
    }
  | {
      /** A command packet from the SIM was accepted and its message relayed. */
      status: 'accepted';
      /** Packet kind. */
      kind: 'command';
      /** Key version of its counter. */
      keyVersion: number;
      /** Its counter. */
      counter: number;
      /** The message inside. */
      message: { type: SimvaultMessage['type']; transactionId: number };
      /** The card application server's reply, queued for the SIM (absent for notices). */
      reply: QueuedPacket | null;
      /** What the card application server recorded for a launch-complete or download-complete notice. */
      outcome: CompletionOutcome | null;
      /** The PoR queued for the SIM, when its SPI asked for one. */
      por: QueuedPacket | null;
    }
  | {
      /** A proof of receipt from the SIM was verified and recorded. */
      status: 'accepted';
      /** Packet kind. */
      kind: 'por';
      /** The counter of the command packet it answers. */
      counter: number;
      /** The SIM's status. */
      porStatus: PorStatus;
      /** The counter for packets to the SIM after resynchronisation (counter low/high). */
      resyncedCounter: number | null;
      /** The message sent again after resynchronisation. */
      resent: QueuedPacket | null;
    };

/** Refusals of the OTA server's own signature: its configuration's fault, not the handset's. */
const UPSTREAM_AUTH = new Set([
  'SERVER_UNAUTHENTICATED',
  'SERVER_BAD_SIGNATURE',
  'SERVER_STALE_REQUEST',
  'SERVER_REPLAYED',
  'SERVER_FORBIDDEN',
]);

const PROTOCOL_TO_OTA: Partial<Record<string, OtaErrorCode>> = {
  PROTOCOL_BAD_CHECKSUM: 'OTA_BAD_CHECKSUM',
  PROTOCOL_INSUFFICIENT_SECURITY: 'OTA_INSUFFICIENT_SECURITY',
  PROTOCOL_REPLAY: 'OTA_REPLAYED',
};

/** The OTA error for a refused secured packet, with the PoR status a card would answer. */
function refusal(e: unknown): OtaError {
  if (!(e instanceof SimvaultError)) throw e;
  const porStatus = porStatusForError(e);
  let code: OtaErrorCode = PROTOCOL_TO_OTA[e.code] ?? 'OTA_BAD_PACKET';
  if (porStatus === 'tar-unknown') code = 'OTA_UNKNOWN_TAR';
  return new OtaError(code, e.message, { porStatus, cause: e });
}

/** 5-byte big-endian counter: the PoR data by which each side reports its counter on a refusal. */
function counterData(value: number): Uint8Array {
  const hi = Math.floor(value / 0x100000000);
  const lo = value >>> 0;
  return new Uint8Array([hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff]);
}

function counterOfData(data: Uint8Array): number | undefined {
  if (data.length !== 5) return undefined;
  return (
    data[0]! * 0x100000000 +
    ((data[1]! << 24) >>> 0) +
    ((data[2]! << 16) | (data[3]! << 8) | data[4]!)
  );
}

function keyVersionOf(kic: number, kid: number, integrity: string): number {
  return decodeKeyIndicator(integrity === 'none' ? kic : kid, 'unused').keyVersion;
}

/**
 * The relay over an {@link OtaStore} and a card application server.
 *
 * @example
 * ```ts
 * import { OtaRelay } from './relay.js';
 * import { openOtaStore } from './store.js';
 * import { CardAppClient } from '../card-app/client.js';
 * const relay = new OtaRelay(await openOtaStore({ dataDir: './d' }), new CardAppClient({ baseUrl: 'http://127.0.0.1:8080', otaKey }));
 * const outcome = await relay.receiveMo('89860012345678901234', tpduBytes);
 * ```
 */
export class OtaRelay {
  /** The store. */
  readonly store: OtaStore;
  /** Wakes long-polls when SMS are queued. */
  readonly notifier = new MtNotifier();
  private readonly cardApp: CardAppForwarder;
  private readonly reassembler: StoredReassembler;
  private readonly originator: SmsAddress;
  private readonly ttl: number;
  private readonly resyncStep: number;
  private readonly maxAttempts: number;
  private readonly log: Logger;
  private readonly now: () => number;

  /**
   * @param store - SIMs, counters and queues
   * @param cardApp - the card application server
   * @param options - framing, timeouts, logging and the clock
   */
  constructor(store: OtaStore, cardApp: CardAppForwarder, options: OtaRelayOptions = {}) {
    this.store = store;
    this.cardApp = cardApp;
    // In the store, so the segments of one message may reach different processes.
    this.reassembler = new StoredReassembler(store, {
      timeoutMs: options.reassemblyTimeoutMs ?? 120_000,
      maxMessagesPerSim: options.reassemblyMessagesPerSim ?? 32,
      claimMs: options.reassemblyClaimMs ?? 30_000,
    });
    this.originator = options.originator ?? { ton: 2, npi: 1, digits: '10658' };
    this.ttl = options.mtTtlMs ?? 24 * 3_600_000;
    this.resyncStep = options.resyncStep ?? 256;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  /** The SIM's configuration, or `OTA_UNKNOWN_SIM`. */
  async sim(iccid: string): Promise<SimConfig> {
    const sim = await this.store.getSim(iccid);
    if (!sim) throw new OtaError('OTA_UNKNOWN_SIM', `SIM ${iccid} is not provisioned`);
    return sim;
  }

  /**
   * Take one mobile-originated SMS-SUBMIT TPDU from the handset of SIM `iccid`.
   *
   * @param iccid - the SIM the handset speaks for
   * @param tpdu - the SMS-SUBMIT TPDU bytes
   */
  async receiveMo(iccid: string, tpdu: Uint8Array): Promise<MoOutcome> {
    const sim = await this.sim(iccid);
    const { userData } = submitUserData(tpdu);
    let piece;
    try {
      piece = await this.reassembler.add(iccid, userData, this.now());
    } catch (e) {
      if (e instanceof SimvaultError) throw new OtaError('OTA_BAD_SMS', e.message, { cause: e });
      throw e;
    }
    if (piece.status === 'incomplete') {
      return {
        status: 'incomplete',
        reference: piece.reference,
        received: piece.received,
        total: piece.total,
        duplicate: piece.duplicate,
      };
    }
    const command = piece.elements.some((e) => e.iei === 0x70);
    const response = piece.elements.some((e) => e.iei === 0x71);
    if (command === response)
      throw new OtaError(
        'OTA_BAD_SMS',
        'the user data header marks no secured packet (70 00 or 71 00)',
      );
    const relay = command
      ? this.receiveCommand(sim, piece.data)
      : this.receivePor(sim, piece.userData);
    if (piece.claim === undefined) return relay;
    let outcome: MoOutcome;
    try {
      outcome = await relay;
    } catch (e) {
      // Released, so the handset's retry relays it again; a packet whose counter was taken
      // meanwhile is then refused as a replay, never accepted twice.
      await this.store.settleMoMessage(iccid, piece.claim, false);
      throw e;
    }
    await this.store.settleMoMessage(iccid, piece.claim, true);
    return outcome;
  }

  private async receiveCommand(sim: SimConfig, bytes: Uint8Array): Promise<MoOutcome> {
    const keys = otaKeysOf(sim.keysets);
    let packet: CommandPacket;
    try {
      packet = openCommandPacket(bytes, keys, {
        tars: [sim.tar],
        minimumSecurity: sim.minimumSecurity,
      });
    } catch (e) {
      const err = refusal(e);
      this.log('warn', 'secured packet refused', {
        iccid: sim.iccid,
        code: err.code,
        porStatus: err.porStatus,
        detail: err.message,
      });
      throw err;
    }
    const keyVersion = keyVersionOf(packet.kic.raw, packet.kid.raw, packet.spi.integrity);
    const counter = Number(packet.counter);
    const refused = await this.acceptCounter(sim, packet, keyVersion);
    if (refused !== undefined) {
      const por = await this.queuePorFor(
        sim,
        packet,
        keyVersion,
        refused.status,
        counterData(refused.last),
      );
      this.log('warn', 'secured packet replayed', {
        iccid: sim.iccid,
        counter,
        last: refused.last,
        porStatus: refused.status,
      });
      throw new OtaError(
        'OTA_REPLAYED',
        `counter ${counter} refused against ${refused.last} (${packet.spi.counter})${por ? '; PoR queued' : ''}`,
        {
          porStatus: refused.status,
        },
      );
    }
    let message: SimvaultMessage;
    try {
      message = decodeMessage(packet.data);
    } catch (e) {
      await this.queuePorFor(sim, packet, keyVersion, 'ok', new Uint8Array(0));
      if (e instanceof SimvaultError)
        throw new OtaError(
          'OTA_BAD_MESSAGE',
          `the packet data is not a simvault message: ${e.message}`,
          { cause: e },
        );
      throw e;
    }
    const por = await this.queuePorFor(sim, packet, keyVersion, 'ok', new Uint8Array(0));
    const { reply, outcome } = await this.forward(sim, message);
    const queued = reply ? await this.sendToSim(sim, reply) : null;
    this.log('info', 'relayed', {
      iccid: sim.iccid,
      counter,
      message: message.type,
      transactionId: message.transactionId,
      reply: reply?.type ?? null,
      replyCounter: queued?.counter ?? null,
    });
    return {
      status: 'accepted',
      kind: 'command',
      keyVersion,
      counter,
      message: { type: message.type, transactionId: message.transactionId },
      reply: queued,
      outcome,
      por,
    };
  }

  /** Check and record the counter; resolves to the refusal (with the stored counter) or undefined. */
  private async acceptCounter(
    sim: SimConfig,
    packet: CommandPacket,
    keyVersion: number,
  ): Promise<{ status: PorStatus; last: number } | undefined> {
    const mode = packet.spi.counter;
    if (mode === 'none' || mode === 'present-not-checked') return undefined;
    const counter = Number(packet.counter);
    for (;;) {
      const last = await this.store.lastMoCounter(sim.iccid, keyVersion);
      const verdict = checkCounter(mode, last, counter, sim.maxCounterStep ?? undefined);
      if (verdict !== 'ok') return { status: `counter-${verdict}`, last };
      // Compare-and-set: another request that accepted a counter in between makes us re-check.
      if (await this.store.acceptMoCounter(sim.iccid, keyVersion, last, counter)) return undefined;
    }
  }

  private async queuePorFor(
    sim: SimConfig,
    packet: CommandPacket,
    keyVersion: number,
    status: PorStatus,
    data: Uint8Array,
  ): Promise<QueuedPacket | null> {
    const wanted =
      packet.spi.porRequest === 'always' ||
      (packet.spi.porRequest === 'on-error' && status !== 'ok');
    if (!wanted) return null;
    const por = buildResponsePacket(
      {
        spi: packet.spi,
        kic: packet.kic.raw,
        kid: packet.kid.raw,
        tar: packet.tar,
        counter: packet.counter,
        status,
        data,
      },
      otaKeysOf(sim.keysets),
    );
    const counter = Number(packet.counter);
    const now = this.now();
    // buildResponsePacket adds the 02 71 00 header; the framing adds it again per segment.
    const tpdus = deliverTpdus(por.subarray(3), {
      kind: 'response',
      reference: counter & 0xff,
      originator: this.originator,
      now,
    });
    const items: MtItem[] = tpdus.map((t, i) => ({
      tpdu: toHex(t),
      kind: 'por',
      keyVersion,
      counter,
      part: i + 1,
      parts: tpdus.length,
    }));
    const seqs = await this.store.enqueue(sim.iccid, items, null, now, this.ttl);
    this.notifier.notify(sim.iccid);
    return { type: 'por', transactionId: 0, keyVersion, counter, seqs };
  }

  private async forward(
    sim: SimConfig,
    message: SimvaultMessage,
  ): Promise<{ reply: SimvaultMessage | null; outcome: CompletionOutcome | null }> {
    const iccid = sim.iccid;
    try {
      switch (message.type) {
        case 'bindRequest':
          if (message.iccid !== iccid)
            throw new OtaError(
              'OTA_BAD_MESSAGE',
              `the bind request names SIM ${message.iccid}, not ${iccid}`,
            );
          return {
            reply: await this.cardApp.bind(message, sim.brand ?? undefined),
            outcome: null,
          };
        case 'unbindRequest':
          return { reply: await this.cardApp.unbind(message, iccid), outcome: null };
        case 'launchRequest':
          return { reply: await this.cardApp.launch(message, iccid), outcome: null };
        case 'deleteRequest':
          return { reply: await this.cardApp.delete(message, iccid), outcome: null };
        case 'launchComplete':
        case 'downloadComplete':
          return { reply: null, outcome: await this.cardApp.complete(message, iccid) };
        default:
          throw new OtaError('OTA_BAD_MESSAGE', `a SIM may not send ${message.type}`);
      }
    } catch (e) {
      if (e instanceof OtaError) throw e;
      // The card application server's own refusals keep their stable codes; failures to reach it
      // or to be understood are the upstream's.
      if (e instanceof ServerError && e.status < 500 && !UPSTREAM_AUTH.has(e.code)) throw e;
      this.log('error', 'card application server failed', {
        iccid,
        message: message.type,
        error: e instanceof Error ? e.message : String(e),
      });
      throw new OtaError(
        'OTA_UPSTREAM',
        `the card application server failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  /**
   * Send a message to a SIM: reserve the next counter, build the secured command packet with the
   * SIM's keyset to its TAR, frame it as SMS-DELIVER segments and queue them.
   *
   * @param sim - the SIM
   * @param message - the simvault message
   * @param attempt - 1 for a first sending
   */
  async sendToSim(sim: SimConfig, message: SimvaultMessage, attempt = 1): Promise<QueuedPacket> {
    const data = encodeMessage(message);
    const keyVersion = keyVersionOf(sim.mt.kic, sim.mt.kid, sim.mt.spi.integrity);
    const counter = await this.store.reserveMtCounter(sim.iccid, keyVersion);
    const packet = buildCommandPacket(
      { spi: sim.mt.spi, kic: sim.mt.kic, kid: sim.mt.kid, tar: sim.tar, counter, data },
      otaKeysOf(sim.keysets),
    );
    const now = this.now();
    const tpdus = deliverTpdus(packet, {
      kind: 'command',
      reference: counter & 0xff,
      originator: this.originator,
      now,
    });
    const items: MtItem[] = tpdus.map((t, i) => ({
      tpdu: toHex(t),
      kind: 'command',
      keyVersion,
      counter,
      part: i + 1,
      parts: tpdus.length,
    }));
    const sent: SentPacket = {
      keyVersion,
      counter,
      spi: toHex(encodeSpi(sim.mt.spi)),
      kic: sim.mt.kic,
      kid: sim.mt.kid,
      tar: toHex(sim.tar),
      messageType: message.type,
      transactionId: message.transactionId,
      message: toHex(data),
      attempt,
      sentAt: now,
      porStatus: null,
      porAt: null,
    };
    const seqs = await this.store.enqueue(sim.iccid, items, sent, now, this.ttl);
    this.notifier.notify(sim.iccid);
    return { type: message.type, transactionId: message.transactionId, keyVersion, counter, seqs };
  }

  /**
   * RFM (claim 3): push the SIM's whole STK application list as a `stkListUpdate` with the next
   * list version.
   *
   * @param iccid - the SIM
   * @param cards - every bound card and its applications
   * @param transactionId - transaction id of the update (default: the list version)
   */
  async pushStkList(
    iccid: string,
    cards: StkCard[],
    transactionId?: number,
  ): Promise<QueuedPacket & { listVersion: number }> {
    const sim = await this.sim(iccid);
    // Validate before a list version is taken: a bad list is the operator's error.
    try {
      encodeMessage({
        type: 'stkListUpdate',
        transactionId: transactionId ?? 0,
        cards,
        listVersion: 1,
      });
    } catch (e) {
      if (e instanceof SimvaultError)
        throw new ServerError('SERVER_BAD_REQUEST', `stk list: ${e.message}`);
      throw e;
    }
    const listVersion = await this.store.nextStkListVersion(iccid);
    const message: SimvaultMessage = {
      type: 'stkListUpdate',
      transactionId: transactionId ?? listVersion,
      cards,
      listVersion,
    };
    const queued = await this.sendToSim(sim, message);
    this.log('info', 'stk list pushed', {
      iccid,
      listVersion,
      counter: queued.counter,
      cards: cards.length,
    });
    return { ...queued, listVersion };
  }

  private async receivePor(sim: SimConfig, userData: Uint8Array): Promise<MoOutcome> {
    const keys = otaKeysOf(sim.keysets);
    let structure;
    try {
      structure = decodeSecuredPacketStructure(userData);
    } catch (e) {
      throw refusal(e);
    }
    if (structure.kind !== 'response')
      throw new OtaError('OTA_BAD_PACKET', 'not a response packet');
    const clearCounter = structure.asIfClear?.counter;
    const found =
      clearCounter !== undefined
        ? await this.store.findSent(sim.iccid, Number(clearCounter))
        : undefined;
    // A ciphered PoR hides its counter: try the packets still waiting for one, newest first.
    const candidates = found ? [found] : await this.store.pendingSent(sim.iccid, 16);
    let opened: { sent: SentPacket; por: ResponsePacket } | undefined;
    let lastError: unknown;
    for (const sent of candidates) {
      if (toHex(structure.tar) !== sent.tar) continue;
      try {
        const por = openResponsePacket(userData, keys, {
          spi: decodeSpi(fromHex(sent.spi)),
          kic: sent.kic,
          kid: sent.kid,
          tar: fromHex(sent.tar),
          counter: sent.counter,
        });
        opened = { sent, por };
        break;
      } catch (e) {
        // A counter that is not this packet's means the PoR answers another one.
        if (!(e instanceof CounterRejectedError)) lastError = e;
      }
    }
    if (!opened) {
      if (lastError !== undefined) throw refusal(lastError);
      throw new OtaError(
        'OTA_UNKNOWN_POR',
        'the proof of receipt answers no command packet sent to this SIM',
      );
    }
    const { sent, por } = opened;
    // A PoR counts once: a captured one sent again (a "counter low" above all) must not make the
    // server resynchronise and resend the message again and again.
    if (sent.porStatus !== null) {
      throw new OtaError(
        'OTA_REPLAYED',
        `the packet with counter ${sent.counter} already has its proof of receipt (${sent.porStatus})`,
        { porStatus: por.status },
      );
    }
    const now = this.now();
    await this.store.recordPor(sim.iccid, sent.keyVersion, sent.counter, por.status, now);
    let resyncedCounter: number | null = null;
    let resent: QueuedPacket | null = null;
    if (por.status === 'counter-low' || por.status === 'counter-high') {
      const reported = counterOfData(por.data);
      // Counters to the SIM never go down: a reported counter above ours is adopted, a "low"
      // without one jumps ahead; a "high" can only be cured by a SIM-side change.
      const target =
        reported ?? (por.status === 'counter-low' ? sent.counter + this.resyncStep : sent.counter);
      resyncedCounter = await this.store.raiseMtCounter(sim.iccid, sent.keyVersion, target);
      if (por.status === 'counter-low' && sent.attempt < this.maxAttempts) {
        resent = await this.sendToSim(sim, decodeMessage(fromHex(sent.message)), sent.attempt + 1);
      }
      this.log('warn', 'counter resynchronised', {
        iccid: sim.iccid,
        porStatus: por.status,
        reported: reported ?? null,
        counter: resyncedCounter,
        resent: resent?.counter ?? null,
      });
    } else {
      this.log(por.status === 'ok' ? 'info' : 'warn', 'proof of receipt', {
        iccid: sim.iccid,
        counter: sent.counter,
        porStatus: por.status,
      });
    }
    return {
      status: 'accepted',
      kind: 'por',
      counter: sent.counter,
      porStatus: por.status,
      resyncedCounter,
      resent,
    };
  }
}
