// Shared test data: CID registers, applications, keys, and a card application server on loopback.
import { randomBytes } from 'node:crypto';
import { toHex } from '../../src/bytes.js';
import { cidIdentity, decodeCid, encodeCid } from '../../src/protocol/cid.js';
import type { SigningKey } from '../../src/server/auth.js';
import { CardAppClient } from '../../src/server/card-app/client.js';
import { createCardAppApp, type CardAppHttpOptions } from '../../src/server/card-app/http.js';
import { CardAppService } from '../../src/server/card-app/service.js';
import { listen, type RunningServer } from '../../src/server/listen.js';
import type { ApplicationRecord, RegistryStore } from '../../src/server/store/store.js';

/** The 16-byte CID register of test card `n`, with a valid CRC7. */
export function cidBytes(n: number): Uint8Array {
  return encodeCid({
    mid: 0x03,
    oid: 'SD',
    pnm: 'SU01G',
    prv: { major: 8, minor: 0 },
    psn: n,
    mdt: { year: 2020, month: 1 },
    crc: 'valid',
  });
}
/** The register as 32 hex digits (what an operator file holds). */
export const cidHex = (n: number) => toHex(cidBytes(n));
/** The registry key of test card `n`. */
export const cidKey = (n: number) => toHex(cidIdentity(decodeCid(cidBytes(n))));

export const ICCID = '89860012345678901234';
export const OTHER_ICCID = '89860098765432109876';

export const TV: ApplicationRecord = {
  aid: 'a0000000871001',
  name: '手机电视',
  zone: 'multimedia',
  size: 2_621_440,
  version: '2.1',
  resource: {
    url: 'https://ota.example/tv-2.1.bin',
    digest: 'bf7dace540626145dc438a10293b1b9f3fe4af853b7a3477b1cf6d75b5abd034',
    size: 2_097_152,
  },
};
export const ADS: ApplicationRecord = {
  aid: 'a000000087300001',
  name: 'Offers',
  zone: 'advertising',
  size: 40_960,
  version: '1.0',
  resource: null,
};

export const OTA_KEY: SigningKey = {
  id: 'ota',
  role: 'ota',
  secret: new Uint8Array(randomBytes(32)),
};
export const OPERATOR_KEY: SigningKey = {
  id: 'operator',
  role: 'operator',
  secret: new Uint8Array(randomBytes(32)),
};

export interface TestServer extends RunningServer {
  client: CardAppClient;
  service: CardAppService;
}

/** A card application server on loopback over `store` (the caller closes the store). */
export async function startTestServer(
  store: RegistryStore,
  options: Partial<CardAppHttpOptions> = {},
): Promise<TestServer> {
  const service = new CardAppService(store);
  const app = await createCardAppApp(service, {
    keys: [OTA_KEY, OPERATOR_KEY],
    rateLimit: { capacity: 10_000, refillPerSecond: 10_000 },
    ...options,
  });
  const server = await listen(app.fetch, { port: 0 });
  return {
    ...server,
    service,
    client: new CardAppClient({ baseUrl: server.url, otaKey: OTA_KEY, operatorKey: OPERATOR_KEY }),
  };
}
