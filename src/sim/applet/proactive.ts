/**
 * The applet's proactive side: the queue of proactive commands the terminal fetches, and the
 * menus built from the binding list — SET UP MENU (one item per active application, then one
 * per bound card), the SELECT ITEM sub-menus behind them, and paging with a "More" item when a
 * menu does not fit the 255 bytes of one proactive command. Names are coded as the text needs
 * (UCS2 for Chinese).
 *
 * @module
 */
import { equalBytes, toHex } from '../../bytes.js';
import { ProtocolError } from '../../errors.js';
import {
  COMMAND_TYPE,
  encodeProactiveCommand,
  type ProactiveCommand,
} from '../../protocol/toolkit.js';
import type { MenuItem } from '../../protocol/toolkit-objects.js';
import { MENU_ITEM } from './apdu-table.js';
import { findBoundCard, sameCard } from './binding-list.js';
import type { MenuAction, MenuChoice, ProactiveEntry, SimState } from './state.js';

/**
 * Most proactive commands queued at once; beyond it an envelope gets `9300` (toolkit busy).
 *
 * @example
 * ```ts
 * import { MAX_PROACTIVE_QUEUE } from 'simvault/sim';
 * MAX_PROACTIVE_QUEUE; // 12
 * ```
 */
export const MAX_PROACTIVE_QUEUE = 12;

/**
 * Title of the SIM's main menu (the SET UP MENU alpha identifier).
 *
 * @example
 * ```ts
 * import { MENU_TITLE } from 'simvault/sim';
 * MENU_TITLE; // 'simvault'
 * ```
 */
export const MENU_TITLE = 'simvault';

/** A proactive command without its number, which the queue assigns. */
type Unnumbered = ProactiveCommand extends infer C
  ? C extends ProactiveCommand
    ? Omit<C, 'commandNumber'>
    : never
  : never;

/** One line of a menu: its text and its action. */
interface MenuLine {
  text: string;
  action: MenuAction;
}

function nextCommandNumber(state: SimState): number {
  state.commandNumber = state.commandNumber >= 254 ? 1 : state.commandNumber + 1;
  return state.commandNumber;
}

/**
 * Queue a proactive command: number it, encode it, remember what its items do.
 *
 * @example
 * ```ts
 * import { queueProactive, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * queueProactive(state, { kind: 'displayText', qualifier: 0x80, text: { dcs: 0x04, text: 'Hello' } });
 * state.proactive.length; // 1
 * ```
 */
export function queueProactive(
  state: SimState,
  cmd: Unnumbered,
  choices: MenuChoice[] = [],
  onCancel?: MenuAction,
): ProactiveEntry {
  const commandNumber = nextCommandNumber(state);
  const command = encodeProactiveCommand({ ...cmd, commandNumber });
  const entry: ProactiveEntry = {
    command,
    commandNumber,
    commandType: COMMAND_TYPE[cmd.kind],
    choices,
  };
  if (onCancel) entry.onCancel = onCancel;
  state.proactive.push(entry);
  return entry;
}

/**
 * Queue a DISPLAY TEXT notice (cleared by the user), UCS2 when the text needs it.
 *
 * @example
 * ```ts
 * import { queueNotice, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * queueNotice(state, 'Card bound');
 * ```
 */
export function queueNotice(state: SimState, text: string): void {
  const ascii = /^[\x20-\x7e]*$/.test(text);
  queueProactive(state, {
    kind: 'displayText',
    qualifier: 0x80,
    text: { dcs: ascii ? 0x04 : 0x08, text },
  });
}

/**
 * The menu label of a card: "Card" and its serial number (PSN) in hex.
 *
 * @example
 * ```ts
 * import { cardLabel } from 'simvault/sim';
 * import { fromHex } from 'simvault';
 * cardLabel(fromHex('035344535530314780401c751300637d')); // 'Card 401c7513'
 * ```
 */
export function cardLabel(cid: Uint8Array): string {
  return `Card ${toHex(cid.subarray(9, 13))}`;
}

/** The lines of the main menu: active applications of bound cards, then the bound cards. */
function mainMenuLines(state: SimState): MenuLine[] {
  const lines: MenuLine[] = [];
  const bound = state.cards.filter((c) => c.bound);
  for (const card of bound) {
    for (const app of card.applications) {
      if (app.state === 'active')
        lines.push({ text: app.name, action: { kind: 'appMenu', cid: card.cid, aid: app.aid } });
    }
  }
  for (const card of bound)
    lines.push({ text: cardLabel(card.cid), action: { kind: 'cardMenu', cid: card.cid } });
  return lines;
}

function fits(cmd: Unnumbered): boolean {
  try {
    // 256 bytes at most, so that 91xx can announce the length (xx = 00 for 256).
    return encodeProactiveCommand({ ...cmd, commandNumber: 1 }).length <= 256;
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'PROTOCOL_BAD_LENGTH') return false;
    throw e;
  }
}

const MORE = 'More...';

/**
 * Split menu lines into pages that each fit one proactive command; every page but the last ends
 * with a "More..." item that opens the next.
 */
function paginate(
  lines: readonly MenuLine[],
  build: (items: MenuItem[], page: number) => Unnumbered,
): MenuChoice[][] {
  const pages: MenuChoice[][] = [];
  let at = 0;
  do {
    const page = pages.length;
    const choices: MenuChoice[] = [];
    const itemsOf = (extra: MenuChoice[]): MenuItem[] =>
      [...choices, ...extra].map((c) => ({ id: c.id, text: textOf(c, lines) }));
    while (at < lines.length && choices.length < 254) {
      const candidate: MenuChoice = { id: choices.length + 1, action: lines[at]!.action };
      const isLast = at === lines.length - 1;
      const more: MenuChoice[] = isLast
        ? []
        : [{ id: MENU_ITEM.more, action: { kind: 'page', page: page + 1 } }];
      if (!fits(build(itemsOf([candidate, ...more]), page))) break;
      choices.push(candidate);
      at++;
    }
    // A single line too long for any page cannot happen (names are at most 64 bytes), but never loop.
    if (choices.length === 0 && at < lines.length) at++;
    if (at < lines.length)
      choices.push({ id: MENU_ITEM.more, action: { kind: 'page', page: page + 1 } });
    pages.push(choices);
  } while (at < lines.length);
  return pages;
}

// The text of a choice: the line it came from, or "More..." for a page link.
function textOf(choice: MenuChoice, lines: readonly MenuLine[]): string {
  if (choice.action.kind === 'page') return MORE;
  const line = lines.find((l) => l.action === choice.action);
  return line ? line.text : MORE;
}

function menuItems(choices: MenuChoice[], lines: readonly MenuLine[]): MenuItem[] {
  return choices.map((c) => ({ id: c.id, text: textOf(c, lines) }));
}

/**
 * The main menu's pages: page 0 is the SET UP MENU, the others SELECT ITEM continuations.
 *
 * @example
 * ```ts
 * import { menuPages, personalizeSim } from 'simvault/sim';
 * menuPages(personalizeSim({ iccid: '89860012345678901234' }).state).length; // 1
 * ```
 */
export function menuPages(state: SimState): {
  /** What each item of the page does, by item identifier (kept for MENU SELECTION / SELECT ITEM). */
  choices: MenuChoice[];
  /** The page's items as the proactive command carries them: identifier and text. */
  items: MenuItem[];
}[] {
  const lines = mainMenuLines(state);
  const build = (items: MenuItem[], page: number): Unnumbered =>
    page === 0
      ? { kind: 'setUpMenu', qualifier: 0, title: MENU_TITLE, items }
      : { kind: 'selectItem', qualifier: 0, title: MORE, items };
  return paginate(lines, build).map((choices) => ({ choices, items: menuItems(choices, lines) }));
}

/**
 * Queue a SET UP MENU built from the list, replacing any not yet at the head of the queue, and
 * remember its items for MENU SELECTION.
 *
 * @example
 * ```ts
 * import { queueSetUpMenu, personalizeSim } from 'simvault/sim';
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * queueSetUpMenu(state);
 * state.proactive[0]!.commandType; // 0x25
 * ```
 */
export function queueSetUpMenu(state: SimState): void {
  state.proactive = state.proactive.filter((p, i) => i === 0 || p.commandType !== 0x25);
  const page = menuPages(state)[0]!;
  state.menu = page.choices;
  queueProactive(state, { kind: 'setUpMenu', qualifier: 0, title: MENU_TITLE, items: page.items });
}

/**
 * Queue the SELECT ITEM continuation page `page` of the main menu. Returns false when the page
 * no longer exists (the list shrank).
 *
 * @example
 * ```ts
 * import { queueMenuPage, personalizeSim } from 'simvault/sim';
 * queueMenuPage(personalizeSim({ iccid: '89860012345678901234' }).state, 1); // false
 * ```
 */
export function queueMenuPage(state: SimState, page: number): boolean {
  const p = menuPages(state)[page];
  if (!p || page === 0) return false;
  queueProactive(
    state,
    { kind: 'selectItem', qualifier: 0, title: MORE, items: p.items },
    p.choices,
    { kind: 'cancel' },
  );
  return true;
}

/**
 * Queue a SELECT ITEM whose items are `lines`, each with its item identifier; backing out
 * triggers `onCancel`.
 *
 * @example
 * ```ts
 * const { state } = personalizeSim({ iccid: '89860012345678901234' });
 * queueChoice(state, 'Bind new card?', [{ id: MENU_ITEM.bind, text: 'Bind', action: { kind: 'bind', cid: new Uint8Array(16) } }], { kind: 'cancel' });
 * ```
 */
export function queueChoice(
  state: SimState,
  title: string,
  lines: { id: number; text: string; action: MenuAction }[],
  onCancel: MenuAction,
): void {
  const choices = lines.map((l) => ({ id: l.id, action: l.action }));
  const items = lines.map((l) => ({ id: l.id, text: l.text }));
  queueProactive(state, { kind: 'selectItem', qualifier: 0, title, items }, choices, onCancel);
}

/**
 * Queue the sub-menu of an application (launch, and delete when its file is on the card) or of
 * a card (unbind). Returns false when the card or application is gone.
 *
 * @example
 * ```ts
 * import { queueSubMenu, personalizeSim } from 'simvault/sim';
 * queueSubMenu(personalizeSim({ iccid: '89860012345678901234' }).state, { kind: 'cardMenu', cid: new Uint8Array(16) }); // false
 * ```
 */
export function queueSubMenu(state: SimState, action: MenuAction): boolean {
  if (action.kind !== 'appMenu' && action.kind !== 'cardMenu') return false;
  const card = findBoundCard(state, action.cid);
  if (!card) return false;
  if (action.kind === 'cardMenu') {
    queueChoice(
      state,
      cardLabel(card.cid),
      [{ id: MENU_ITEM.unbind, text: 'Unbind', action: { kind: 'unbind', cid: card.cid } }],
      { kind: 'cancel' },
    );
    return true;
  }
  const app = card.applications.find((a) => a.state === 'active' && equalBytes(a.aid, action.aid));
  if (!app) return false;
  const lines: { id: number; text: string; action: MenuAction }[] = [
    {
      id: MENU_ITEM.launch,
      text: 'Launch',
      action: { kind: 'launch', cid: card.cid, aid: app.aid },
    },
  ];
  if (app.installed)
    lines.push({
      id: MENU_ITEM.delete,
      text: 'Delete',
      action: { kind: 'delete', cid: card.cid, aid: app.aid },
    });
  queueChoice(state, app.name, lines, { kind: 'cancel' });
  return true;
}

/**
 * The item identifiers that lead from the main menu to an action: the MENU SELECTION item, then
 * one SELECT ITEM answer per continuation page and sub-menu, ending with the action's own item.
 * `undefined` when the menu offers no such action (the card is not bound, the application is not
 * shown, or — for delete — its file is not on the card).
 *
 * @example
 * ```ts
 * menuPath(personalizeSim({ iccid: '89860012345678901234' }).state, 'unbind', new Uint8Array(16)); // undefined
 * ```
 */
export function menuPath(
  state: SimState,
  action: 'launch' | 'delete' | 'unbind',
  cid: Uint8Array,
  aid?: Uint8Array,
): number[] | undefined {
  const card = findBoundCard(state, cid);
  if (!card) return undefined;
  let last: number;
  if (action === 'unbind') last = MENU_ITEM.unbind;
  else {
    const app =
      aid && card.applications.find((a) => a.state === 'active' && equalBytes(a.aid, aid));
    if (!app || (action === 'delete' && !app.installed)) return undefined;
    last = action === 'launch' ? MENU_ITEM.launch : MENU_ITEM.delete;
  }
  const pages = menuPages(state);
  for (let p = 0; p < pages.length; p++) {
    const hit = pages[p]!.choices.find((c) => {
      const a = c.action;
      if (action === 'unbind') return a.kind === 'cardMenu' && sameCard(a.cid, cid);
      return (
        a.kind === 'appMenu' && sameCard(a.cid, cid) && aid !== undefined && equalBytes(a.aid, aid)
      );
    });
    if (hit) return [...new Array<number>(p).fill(MENU_ITEM.more), hit.id, last];
  }
  return undefined;
}
