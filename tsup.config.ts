import { defineConfig } from 'tsup';

// One entry per layer; each becomes a subpath export in package.json.
//
// No source maps: the published JavaScript is unminified ESM/CJS that reads as it runs, and the
// maps (which would embed or point at src/, not in the tarball) doubled the unpacked size.
const entry = {
  index: 'src/index.ts',
  'crypto/index': 'src/crypto/index.ts',
  'protocol/index': 'src/protocol/index.ts',
  'card/index': 'src/card/index.ts',
  'sim/index': 'src/sim/index.ts',
  'handset/index': 'src/handset/index.ts',
  'node/index': 'src/node/index.ts',
  'server/index': 'src/server/index.ts',
};

export default defineConfig([
  {
    entry,
    format: ['esm'],
    dts: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
  },
  {
    entry,
    format: ['cjs'],
    dts: true,
    target: 'node20',
    // @noble/* ship ESM only; a require() consumer on Node 20 cannot load them, so the CJS
    // build carries its own copy.
    noExternal: [/^@noble\//],
  },
  {
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
