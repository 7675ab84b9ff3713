// A simulated SIM for the OTA server tests, built only from the protocol codecs: it secures
// simvault messages into command packets with its own keys and counter, frames them as
// SMS-SUBMIT segments, and opens the SMS-DELIVER segments the OTA server queues for it.
import { concatBytes, fromHex } from '../../../src/bytes.js';
import {
  decodeMessage,
  encodeMessage,
  type SimvaultMessage,
} from '../../../src/protocol/messages.js';
import {
  buildCommandPacket,
  buildResponsePacket,
  encodeKeyIndicator,
  openCommandPacket,
  type CommandPacket,
  type PorStatus,
  type ResponsePacket,
  openResponsePacket,
  type Spi,
} from '../../../src/protocol/secured-packet.js';
import { deriveHandsetCredential, handsetKeyId } from '../../../src/protocol/handset-credential.js';
import { signatureHeaders } from '../../../src/protocol/request-signature.js';
import { ConcatReassembler, splitSecuredPacket } from '../../../src/protocol/sms-concat.js';
import {
  decodeSmsTpdu,
  decodeUserDataHeader,
  encodeSmsTpdu,
  encodeUserDataHeader,
} from '../../../src/protocol/sms.js';

export const MO_SPI: Spi = {
  counter: 'must-be-higher',
  ciphered: true,
  integrity: 'cc',
  porRequest: 'none',
  porIntegrity: 'cc',
  porCiphered: false,
  porViaSubmit: true,
};

export interface SimOptions {
  iccid: string;
  tar: Uint8Array;
  keyVersion?: number;
  kic?: Uint8Array;
  kid?: Uint8Array;
}

/** What a SIM got from one mobile-terminated packet. */
export type Received =
  | { kind: 'command'; packet: CommandPacket; message: SimvaultMessage }
  | { kind: 'por'; por: ResponsePacket };

export class SimulatedSim {
  readonly iccid: string;
  readonly tar: Uint8Array;
  readonly keyVersion: number;
  readonly kic: Uint8Array;
  readonly kid: Uint8Array;
  /** Counter of the next packet this SIM sends. */
  counter = 1;
  /** Last counter accepted from the OTA server. */
  lastMt = 0;
  private readonly reassembler = new ConcatReassembler();

  constructor(o: SimOptions) {
    this.iccid = o.iccid;
    this.tar = o.tar;
    this.keyVersion = o.keyVersion ?? 1;
    this.kic = o.kic ?? fromHex('000102030405060708090a0b0c0d0e0f');
    this.kid = o.kid ?? fromHex('101112131415161718191a1b1c1d1e1f');
  }

  get keys() {
    return [{ version: this.keyVersion, kic: this.kic, kid: this.kid }];
  }

  /** The headers that sign a read of this SIM's queue with its handset credential. */
  handsetHeaders(url: string): Record<string, string> {
    const secret = deriveHandsetCredential(this.iccid, this.keyVersion, this.kic, this.kid);
    return signatureHeaders(handsetKeyId(this.iccid, this.keyVersion), secret, 'GET', url);
  }

  /** The operator's provisioning JSON of this SIM. */
  config(extra: Record<string, unknown> = {}) {
    return {
      tar: Buffer.from(this.tar).toString('hex'),
      keysets: [
        {
          version: this.keyVersion,
          algorithm: 'aes',
          kic: Buffer.from(this.kic).toString('hex'),
          kid: Buffer.from(this.kid).toString('hex'),
        },
      ],
      ...extra,
    };
  }

  /** A secured command packet (no UDH) carrying `message`. */
  packet(
    message: SimvaultMessage | Uint8Array,
    o: { counter?: number; spi?: Spi; tar?: Uint8Array } = {},
  ): Uint8Array {
    const ki = encodeKeyIndicator(this.keyVersion, 'aes');
    const counter = o.counter ?? this.counter++;
    return buildCommandPacket(
      {
        spi: o.spi ?? MO_SPI,
        kic: ki,
        kid: ki,
        tar: o.tar ?? this.tar,
        counter,
        data: message instanceof Uint8Array ? message : encodeMessage(message),
      },
      this.keys,
    );
  }

  /** SMS-SUBMIT TPDUs carrying a secured packet (no UDH), split when long. */
  submitTpdus(
    packet: Uint8Array,
    kind: 'command' | 'response' = 'command',
    reference = 42,
  ): Uint8Array[] {
    return splitSecuredPacket(packet, { reference, kind }).map((ud) => {
      const { elements, end } = decodeUserDataHeader(ud);
      return encodeSmsTpdu({
        type: 'submit',
        rejectDuplicates: false,
        statusReportRequest: false,
        replyPath: false,
        messageReference: reference,
        destination: { ton: 2, npi: 1, digits: '10658' },
        pid: 0x7f,
        dcs: 0xf6,
        validity: { format: 'none' },
        userData: { header: elements, data: ud.subarray(end) },
      });
    });
  }

  /** Send `message` as the SIM would: command packet → SMS-SUBMIT segments. */
  mo(
    message: SimvaultMessage | Uint8Array,
    o: { counter?: number; spi?: Spi; tar?: Uint8Array } = {},
  ): Uint8Array[] {
    return this.submitTpdus(this.packet(message, o));
  }

  /**
   * Take one SMS-DELIVER TPDU (hex) from the queue; resolves to what a complete packet held, or
   * undefined while segments are missing. Checks PID 7F / DCS F6 as a handset would before the
   * SMS-PP download envelope.
   */
  deliver(tpduHex: string, o: { checkCounter?: boolean } = {}): Received | undefined {
    const t = decodeSmsTpdu(fromHex(tpduHex));
    if (t.type !== 'deliver' || t.pid !== 0x7f || t.dcs !== 0xf6 || !t.userData.header)
      throw new Error('not an SMS-PP data download');
    const piece = this.reassembler.add(
      concatBytes(encodeUserDataHeader(t.userData.header), t.userData.data),
    );
    if (piece.status === 'incomplete') return undefined;
    if (piece.elements.some((e) => e.iei === 0x71)) {
      return {
        kind: 'por',
        por: openResponsePacket(piece.userData, this.keys, { spi: MO_SPI, kic: 0x12, kid: 0x12 }),
      };
    }
    const packet = openCommandPacket(piece.data, this.keys, {
      tars: [this.tar],
      minimumSecurity: { ciphering: true, integrity: 'cc', counter: 'must-be-higher' },
      ...(o.checkCounter === false ? {} : { lastCounter: this.lastMt }),
    });
    this.lastMt = Math.max(this.lastMt, Number(packet.counter));
    return { kind: 'command', packet, message: decodeMessage(packet.data) };
  }

  /** A proof of receipt for a command packet from the OTA server, as SMS-SUBMIT TPDUs. */
  por(
    packet: CommandPacket,
    status: PorStatus,
    data: Uint8Array = new Uint8Array(0),
  ): Uint8Array[] {
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
      this.keys,
    );
    return this.submitTpdus(por.subarray(3), 'response', Number(packet.counter) & 0xff);
  }
}
