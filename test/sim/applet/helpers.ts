// Shared fixtures of the SIM applet tests: a seeded SIM, CIDs, and the OTA server's side of the
// secured channel (packets to the SIM framed as SMS-DELIVER, packets from it opened).
import { fromHex } from '../../../src/bytes.js';
import {
  decodeMessage,
  encodeMessage,
  type CustomizedApplication,
  type SimvaultMessage,
} from '../../../src/protocol/messages.js';
import {
  buildCommandPacket,
  encodeKeyIndicator,
  openCommandPacket,
  type CommandPacket,
  type Spi,
} from '../../../src/protocol/secured-packet.js';
import { decodeSmsTpdu, encodeUserDataHeader } from '../../../src/protocol/sms.js';
import { decodeProactiveCommand, type ProactiveCommand } from '../../../src/protocol/toolkit.js';
import { deliverTpdus } from '../../../src/server/ota/sms-frames.js';
import {
  personalizeSim,
  SimCard,
  SimClient,
  type PersonalizeOptions,
  type SimResponse,
  type SimState,
} from '../../../src/sim/index.js';
import { otaKeysOfState } from '../../../src/sim/applet/ota-link.js';
import { RECOMMENDED_MT_SPI } from '../../../src/protocol/secured-packet.js';

export const ICCID = '89860012345678901234';

/** An application a card application server customizes for a card: a UCS2 name, 4000 bytes. */
export const TV: CustomizedApplication = {
  aid: fromHex('a0000000871001'),
  name: '手机电视',
  zone: 'multimedia',
  size: 4000,
  version: '1.0',
};

/** Deterministic "random" bytes: a counter-based stream. */
export function seededRandom(seed = 1): (n: number) => Uint8Array {
  let s = seed;
  return (n) => new Uint8Array(n).map(() => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
}

/** A well-formed CID (CRC stripped) whose PSN is `n`. */
export function cidOf(n: number): Uint8Array {
  const c = fromHex('035344535530314780000000000163' + '00');
  c[9] = (n >>> 24) & 0xff;
  c[10] = (n >>> 16) & 0xff;
  c[11] = (n >>> 8) & 0xff;
  c[12] = n & 0xff;
  return c;
}

export function freshState(options: Partial<PersonalizeOptions> = {}): SimState {
  return personalizeSim({ iccid: ICCID, randomBytes: seededRandom(), ...options }).state;
}

/**
 * The test SIM of a docs/sim-apdus.md example block: fresh, with each card of its
 * `# given: card CID bound` lines bound with one TV application.
 */
export async function docState(given: readonly string[]): Promise<SimState> {
  const sim = new SimCard(freshState());
  for (const cid of given) {
    await sim.bindOffline(fromHex(cid), [
      {
        aid: fromHex('a0000000871001'),
        name: 'TV',
        zone: 'multimedia',
        size: 4000,
        version: '1.0',
        state: 'active',
        installed: false,
      },
    ]);
  }
  return sim.state;
}

export async function selectedSim(state: SimState): Promise<{ card: SimCard; client: SimClient }> {
  const card = new SimCard(state);
  const client = new SimClient(card);
  await client.select();
  return { card, client };
}

/** The OTA server's view of one SIM: its counter to the SIM, and helpers for both directions. */
export class FakeOta {
  counter = 0;
  constructor(
    readonly state: SimState,
    readonly spi: Spi = RECOMMENDED_MT_SPI,
  ) {}

  get indicator(): number {
    const ks = this.state.keysets[0]!;
    return encodeKeyIndicator(ks.version, ks.algorithm);
  }

  /** A secured command packet (from CPL) carrying `data`. */
  packet(
    data: Uint8Array,
    opts: { counter?: number; spi?: Spi; tar?: Uint8Array } = {},
  ): Uint8Array {
    const counter = opts.counter ?? ++this.counter;
    return buildCommandPacket(
      {
        spi: opts.spi ?? this.spi,
        kic: this.indicator,
        kid: this.indicator,
        tar: opts.tar ?? this.state.tar,
        counter,
        data,
      },
      otaKeysOfState(this.state),
    );
  }

  /** SMS-DELIVER TPDUs carrying a packet. */
  tpdus(packet: Uint8Array, kind: 'command' | 'response' = 'command'): Uint8Array[] {
    return deliverTpdus(packet, {
      kind,
      reference: this.counter & 0xff,
      originator: { ton: 1, npi: 1, digits: '8613800000000' },
      now: 0,
    });
  }

  /** Send a message to the SIM through the client; resolves to the last segment's response. */
  async send(
    client: SimClient,
    message: SimvaultMessage,
    opts: { counter?: number; spi?: Spi } = {},
  ): Promise<SimResponse> {
    let last: SimResponse | undefined;
    for (const tpdu of this.tpdus(this.packet(encodeMessage(message), opts)))
      last = await client.smsPpDownload(tpdu);
    return last!;
  }
}

/** Open a SEND SHORT MESSAGE from the SIM: its SMS-SUBMIT, the secured packet, the message. */
export function openMo(
  state: SimState,
  cmd: ProactiveCommand,
): { packet: CommandPacket; message: SimvaultMessage } {
  if (cmd.kind !== 'sendShortMessage')
    throw new Error(`expected SEND SHORT MESSAGE, got ${cmd.kind}`);
  const sms = decodeSmsTpdu(cmd.tpdu);
  if (sms.type !== 'submit' || !sms.userData.header)
    throw new Error('not an SMS-SUBMIT with a header');
  const ud = new Uint8Array([...encodeUserDataHeader(sms.userData.header), ...sms.userData.data]);
  const packet = openCommandPacket(ud.subarray(3), otaKeysOfState(state), { tars: [state.tar] });
  return { packet, message: decodeMessage(packet.data) };
}

/** The user data (from the UDH on) of a SEND SHORT MESSAGE. */
export function smsUserData(cmd: ProactiveCommand): Uint8Array {
  if (cmd.kind !== 'sendShortMessage')
    throw new Error(`expected SEND SHORT MESSAGE, got ${cmd.kind}`);
  const sms = decodeSmsTpdu(cmd.tpdu);
  if (!sms.userData.header) throw new Error('no header');
  return new Uint8Array([...encodeUserDataHeader(sms.userData.header), ...sms.userData.data]);
}

export function decodeAll(bytes: Uint8Array[]): ProactiveCommand[] {
  return bytes.map((b) => decodeProactiveCommand(b));
}

/** The simvault messages of the SEND SHORT MESSAGE commands that carry command packets (not PoRs). */
export function sentMessages(
  state: SimState,
  cmds: { command: ProactiveCommand }[],
): SimvaultMessage[] {
  return cmds
    .map((c) => c.command)
    .filter((c) => c.kind === 'sendShortMessage' && smsUserData(c)[1] === 0x70)
    .map((c) => openMo(state, c).message);
}
