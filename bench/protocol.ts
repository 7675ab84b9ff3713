// `npm run bench -- protocol`: encode + decode per second for each simvault message kind (beside
// JSON of the same value), and secure + verify of secured packets per second (beside the raw
// cipher and MAC calls on the same bytes), all measured in the same run.
import { benchMessages } from './protocol-messages.js';
import { benchPackets } from './protocol-packets.js';
import type { BenchSubject } from './row.js';

const subject: BenchSubject = {
  name: 'protocol',
  async run(options) {
    return [...(await benchMessages(options)), ...(await benchPackets(options))];
  },
};

export default subject;
