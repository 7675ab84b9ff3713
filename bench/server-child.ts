// One card application server process for `bench/server.ts`: started with a JSON argument
// (`{ location, secret }`), prints its URL on stdout, stops on SIGTERM or when the bench goes. Out of the bench's own
// process so that the load generator and the server do not share one event loop.
import { fromHex } from '../src/bytes.js';
import { startCardAppServer } from '../src/server/card-app/start.js';
import type { StoreLocation } from '../src/server/store/open.js';

const { location, secret } = JSON.parse(process.argv[2]!) as {
  location: StoreLocation;
  secret: string;
};
const server = await startCardAppServer({
  store: location,
  keys: [{ id: 'ota', role: 'ota', secret: fromHex(secret) }],
  port: 0,
  rateLimit: { capacity: 1e9, refillPerSecond: 1e9 },
});
process.stdout.write(`${server.url}\n`);
// The bench asks for this process's CPU time (µs, user + system) around each measured slice.
process.on('message', () => {
  const { user, system } = process.cpuUsage();
  process.send?.(user + system);
});
process.once('disconnect', () => {
  void server.close().then(() => process.exit(0));
});
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
