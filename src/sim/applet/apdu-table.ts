/**
 * The APDUs the simvault SIM applet answers: the toolkit (CAT) commands of TS 102 221 / 102 223
 * and the proprietary class-`80` commands simvault defines for the handset. The byte layouts are
 * documented with examples in `docs/sim-apdus.md`.
 *
 * @module
 */

/**
 * The applet's AID: `F0` (an unregistered, proprietary RID category) followed by "simvault" in
 * ASCII.
 *
 * @example
 * ```ts
 * import { SIMVAULT_APPLET_AID } from 'simvault/sim';
 * SIMVAULT_APPLET_AID.length; // 9
 * ```
 */
export const SIMVAULT_APPLET_AID: Uint8Array = new Uint8Array([
  0xf0, 0x73, 0x69, 0x6d, 0x76, 0x61, 0x75, 0x6c, 0x74,
]);

/**
 * Instruction bytes. `SELECT` is class `00`; every other one is class `80`. The proprietary ones
 * need the applet selected first.
 *
 * @example
 * ```ts
 * import { SIM_INS } from 'simvault/sim';
 * SIM_INS.cardInserted; // 0x30
 * ```
 */
export const SIM_INS = {
  /** ISO SELECT by DF name (AID): `00 A4 04 00 Lc AID`. */
  select: 0xa4,
  /** CAT TERMINAL PROFILE: `80 10 00 00 Lc profile`. */
  terminalProfile: 0x10,
  /** CAT FETCH: `80 12 00 00 Le`. */
  fetch: 0x12,
  /** CAT TERMINAL RESPONSE: `80 14 00 00 Lc response`. */
  terminalResponse: 0x14,
  /** CAT ENVELOPE (SMS-PP download D1, MENU SELECTION D3): `80 C2 00 00 Lc envelope`. */
  envelope: 0xc2,
  /** Proprietary CARD INSERTED (steps 303-305): `80 30 P1 00 10 CID`. */
  cardInserted: 0x30,
  /** Proprietary GET ZONE KEYS (step 504): `80 32 P1 00 10 CID 00`. */
  getZoneKeys: 0x32,
  /** Proprietary ROLLBACK ANCHOR read (P1 00) / update (P1 01): `80 34 P1 00 Lc CID [zone gen]...`. */
  rollbackAnchor: 0x34,
  /** Proprietary LAUNCH COMPLETE (step 505): `80 36 00 00 Lc launchComplete message`. */
  launchComplete: 0x36,
  /** Proprietary GET HANDSET MESSAGE, read (P1 00) or remove (P1 01) the oldest: `80 38 P1 00 [Le]`. */
  handsetMessage: 0x38,
  /** Proprietary GET APPLICATIONS of a bound card, one per call (P1 = index): `80 3A P1 00 10 CID Le`. */
  getApplications: 0x3a,
  /** Proprietary MENU PATH: the item identifiers that lead to an action (P1): `80 3C P1 00 Lc CID [AID] Le`. */
  menuPath: 0x3c,
  /** Proprietary LAST OUTCOME of a flow (P1) for a card: `80 3E P1 00 10 CID Le`. */
  lastOutcome: 0x3e,
  /** Proprietary HANDSET CREDENTIAL, of the SIM's own key version (P1 00) or key version P1: `80 40 P1 00 21`. */
  handsetCredential: 0x40,
} as const;

/**
 * The item identifiers of the SIM's SELECT ITEM prompts and sub-menus. They are fixed, so a
 * handset answers by identifier, whatever language the SIM words its items in. (Main-menu items
 * and the cards of the release prompt are numbered from 1 and from {@link MENU_ITEM.firstCard};
 * MENU PATH says which to choose.)
 *
 * @example
 * ```ts
 * import { MENU_ITEM } from 'simvault/sim';
 * MENU_ITEM.launch; // 0x01
 * ```
 */
export const MENU_ITEM = {
  /** An application's sub-menu: launch it (501). */
  launch: 0x01,
  /** An application's sub-menu: delete its file from the card (601). */
  delete: 0x02,
  /** A card's sub-menu: unbind it (401). */
  unbind: 0x03,
  /** "Bind this memory card?": bind it (305). */
  bind: 0x04,
  /** "Bind this memory card?": not now. */
  notNow: 0x05,
  /** "Card limit reached": keep the old cards, do not keep the new one. */
  cancel: 0x06,
  /** "Card limit reached": the first bound card offered for release; the others follow. */
  firstCard: 0x10,
  /** A main-menu page that continues on the next one ("More..."). */
  more: 0xff,
} as const;

/**
 * `P1` of MENU PATH: the action whose path through the menus is asked for.
 *
 * @example
 * ```ts
 * import { MENU_ACTION } from 'simvault/sim';
 * MENU_ACTION.unbind; // 0x03
 * ```
 */
export const MENU_ACTION = {
  /** Launch an application of a bound card (data: CID, AID). */
  launch: MENU_ITEM.launch,
  /** Delete an installed application's file (data: CID, AID). */
  delete: MENU_ITEM.delete,
  /** Unbind a bound card (data: CID). */
  unbind: MENU_ITEM.unbind,
} as const;

/**
 * `P1` of LAST OUTCOME: the flow asked about.
 *
 * @example
 * ```ts
 * import { OUTCOME_FLOW } from 'simvault/sim';
 * OUTCOME_FLOW.bind; // 0x01
 * ```
 */
export const OUTCOME_FLOW = {
  /** The last bind of the card (steps 305-311). */
  bind: 0x01,
  /** The last unbind of the card (steps 401-405). */
  unbind: 0x02,
} as const;

/**
 * The result byte of a LAST OUTCOME answer beyond the card application server's result codes
 * (`RESULT_CODES`, `00`-`0B`): outcomes the SIM decides alone.
 *
 * @example
 * ```ts
 * import { SIM_OUTCOME } from 'simvault/sim';
 * SIM_OUTCOME.declined; // 0x80
 * ```
 */
export const SIM_OUTCOME = {
  /** The user declined ("Not now"): no request was sent. */
  declined: 0x80,
} as const;

/**
 * `P1` of CARD INSERTED: what to do for an unbound card.
 *
 * @example
 * ```ts
 * import { CARD_INSERTED_MODE } from 'simvault/sim';
 * CARD_INSERTED_MODE.bindNow; // 0x02
 * ```
 */
export const CARD_INSERTED_MODE = {
  /** Only say whether the card is bound. */
  lookup: 0x00,
  /** Ask the user (SELECT ITEM) and bind if they agree. */
  askUser: 0x01,
  /** The handset already asked: send the bind request at once. */
  bindNow: 0x02,
} as const;

/**
 * The one data byte CARD INSERTED answers.
 *
 * @example
 * ```ts
 * import { CARD_STATUS } from 'simvault/sim';
 * CARD_STATUS.bound; // 0x01
 * ```
 */
export const CARD_STATUS = {
  /** Not bound; nothing sent (lookup only). */
  unbound: 0x00,
  /** Bound to this SIM (step 304: done). */
  bound: 0x01,
  /** Not bound; a bind request or a confirmation prompt is queued (fetch it). */
  bindPending: 0x02,
} as const;

/**
 * Status words the applet answers, by name.
 *
 * @example
 * ```ts
 * import { SW } from 'simvault/sim';
 * SW.ok; // 0x9000
 * ```
 */
export const SW = {
  /** Normal ending. */
  ok: 0x9000,
  /** Toolkit busy: too many proactive commands queued; the envelope was not processed. */
  toolkitBusy: 0x9300,
  /** A secured packet was refused: state unchanged; the PoR, when asked for, is the data (RP-ERROR). */
  securityRefused: 0x6200,
  /** Wrong length (Lc or data length). */
  wrongLength: 0x6700,
  /** The card is not bound (keys, anchors, applications, menu path). */
  securityNotSatisfied: 0x6982,
  /** Conditions of use not satisfied: applet not selected, nothing to fetch or answer, anchor going back. */
  conditionsNotSatisfied: 0x6985,
  /** Incorrect data. */
  incorrectData: 0x6a80,
  /** Application not found (SELECT). */
  notFound: 0x6a82,
  /** Not enough memory: the binding cannot fit the threshold. */
  notEnoughMemory: 0x6a84,
  /** Incorrect P1-P2. */
  wrongP1P2: 0x6a86,
  /** Referenced data not found: no matching request, menu item, path, outcome or message. */
  dataNotFound: 0x6a88,
  /** Instruction not supported. */
  insNotSupported: 0x6d00,
  /** Class not supported. */
  claNotSupported: 0x6e00,
  /** Technical problem: the state could not be committed. */
  technicalProblem: 0x6f00,
} as const;

/**
 * A readable name for the status words the applet uses beyond the ISO ones of the protocol
 * layer's `statusWordName`.
 *
 * @example
 * ```ts
 * import { simStatusWordName } from 'simvault/sim';
 * simStatusWordName(0x6200); // 'secured packet refused, state unchanged (PoR in data)'
 * ```
 */
export function simStatusWordName(sw: number): string | undefined {
  if (sw === SW.securityRefused) return 'secured packet refused, state unchanged (PoR in data)';
  return undefined;
}
