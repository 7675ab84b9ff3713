/**
 * What `simvault sim serve` and `simvault chip serve` share: the `--vpcd` option, serving a
 * virtual card until SIGINT or SIGTERM, and the progress lines on standard error.
 *
 * @module
 */
import { toHex } from '../../bytes.js';
import {
  parseVpcdAddress,
  serveVpcd,
  type VirtualCard,
  type VpcdAddress,
  type VpcdEvent,
} from '../../node/vpcd-connection.js';
import { UsageError, type CliIO } from '../command.js';

/** The options both `serve` commands take, for `parseCommandArgs`. */
export const VPCD_SERVE_OPTIONS = {
  vpcd: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** The `--vpcd` value as host and port; a usage error when absent or malformed. */
export function vpcdAddressOption(value: string | undefined): VpcdAddress {
  if (value === undefined)
    throw new UsageError(
      '--vpcd HOST:PORT is required (vpcd listens on 127.0.0.1:35963 by default)',
    );
  try {
    return parseVpcdAddress(value);
  } catch (e) {
    throw new UsageError(`--vpcd: ${(e as Error).message}`);
  }
}

/** An AbortSignal that aborts on the first SIGINT or SIGTERM; `dispose` stops listening. */
function stopOnSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const on = () => {
    controller.abort();
  };
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

// APDUs carry PINs and keys: a line shows the command header and the status word only.
function describe(e: VpcdEvent): string | undefined {
  switch (e.type) {
    case 'atr':
      return undefined; // vpcd asks for the ATR to poll for the card several times a second
    case 'apdu':
      return `apdu ${toHex(e.command.subarray(0, 4))} -> ${toHex(e.response.subarray(-2))}`;
    case 'unknown-control':
      return `ignored unknown control byte ${e.code.toString(16).padStart(2, '0')}`;
    case 'disconnected':
      return 'disconnected: the card is out of the reader (reconnecting while vpcd is back)';
    default:
      return e.type;
  }
}

/**
 * Serve `card` to vpcd at `address` until SIGINT or SIGTERM, printing `ready` once the card is
 * in the reader and one progress line per event on standard error (none with `quiet`).
 */
export async function runVpcdServe(
  card: VirtualCard,
  address: VpcdAddress,
  what: string,
  io: CliIO,
  quiet: boolean,
): Promise<void> {
  const stop = stopOnSignal();
  let ready = false;
  try {
    await serveVpcd(card, {
      ...address,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'connected' && !ready) {
          ready = true;
          io.stdout.write(
            `${what} is in the vpcd reader at ${address.host}:${address.port} (ATR ${toHex(card.atr)}); Ctrl-C takes it out\n`,
          );
        }
        const line = quiet ? undefined : describe(e);
        if (line !== undefined) io.stderr.write(`vpcd: ${line}\n`);
      },
    });
  } finally {
    stop.dispose();
  }
}
