// One code, one meaning, one family: every `new XError('CODE', …)` in src names a code of
// ERROR_CODES whose prefix belongs to that class, every error class is accounted for, every code
// has a family, and the command line's UsageError (exit 2) stays in the command line.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';

const ROOT = join(import.meta.dirname, '..');

/** Which codes each error class may carry, and where its code argument is. */
const FAMILIES: Record<string, { codes: (code: string) => boolean; arg: number }> = {
  ArgumentError: {
    codes: (c) => ['INVALID_ARGUMENT', 'UNSUPPORTED', 'ABORTED'].includes(c),
    arg: 1,
  },
  CryptoError: { codes: (c) => c.startsWith('CRYPTO_'), arg: 0 },
  ProtocolError: { codes: (c) => c.startsWith('PROTOCOL_'), arg: 0 },
  CounterRejectedError: { codes: (c) => c.startsWith('PROTOCOL_'), arg: 0 },
  CardError: { codes: (c) => c.startsWith('CARD_'), arg: 0 },
  DeviceError: { codes: (c) => c.startsWith('DEVICE_'), arg: 0 },
  PowerCutError: { codes: (c) => c.startsWith('DEVICE_'), arg: 0 },
  ChipError: { codes: (c) => c.startsWith('CHIP_'), arg: 0 },
  SimError: { codes: (c) => c.startsWith('SIM_'), arg: 0 },
  SimStateError: { codes: (c) => c.startsWith('SIM_'), arg: 0 },
  SimStatusError: { codes: (c) => c.startsWith('SIM_'), arg: 0 },
  IoError: { codes: (c) => c.startsWith('IO_'), arg: 0 },
  ServerError: { codes: (c) => c.startsWith('SERVER_'), arg: 0 },
  OtaError: { codes: (c) => c.startsWith('OTA_'), arg: 0 },
  // Names the missing package; its one code is fixed inside the class.
  MissingDriverError: { codes: (c) => c === 'SERVER_DRIVER_MISSING', arg: 0 },
  PcscError: { codes: (c) => c.startsWith('PCSC_'), arg: 0 },
  VpcdError: { codes: (c) => c.startsWith('VPCD_'), arg: 0 },
  // The handset's own codes; a server's code it relays comes from knownCode() or refusal(),
  // never as a literal.
  HandsetError: { codes: (c) => c.startsWith('HANDSET_'), arg: 0 },
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

interface Construction {
  where: string;
  cls: string;
  code: string | undefined;
}

function scan(): { constructions: Construction[]; classes: { name: string; base: string }[] } {
  const constructions: Construction[] = [];
  const classes: { name: string; base: string }[] = [];
  for (const file of sources(join(ROOT, 'src'))) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
        const cls = node.expression.text;
        if (cls.endsWith('Error')) {
          const family = FAMILIES[cls];
          const arg = family ? node.arguments?.[family.arg] : node.arguments?.[0];
          const code =
            arg && ts.isStringLiteral(arg) && /^[A-Z][A-Z0-9_]+$/.test(arg.text)
              ? arg.text
              : undefined;
          const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
          constructions.push({ where: `${relative(ROOT, file)}:${line + 1}`, cls, code });
        }
      }
      if (ts.isClassDeclaration(node) && node.name && node.heritageClauses) {
        const base = node.heritageClauses[0]?.types[0]?.expression;
        if (base && ts.isIdentifier(base)) classes.push({ name: node.name.text, base: base.text });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { constructions, classes };
}

describe('error codes and classes', () => {
  const { constructions, classes } = scan();

  it('finds the constructions it checks', () => {
    expect(constructions.filter((c) => c.code !== undefined).length).toBeGreaterThan(100);
  });

  it('every literal code is in ERROR_CODES and belongs to the class that carries it', () => {
    const wrong = constructions
      .filter((c) => c.code !== undefined)
      .filter((c) => !Object.hasOwn(ERROR_CODES, c.code!) || !FAMILIES[c.cls]?.codes(c.code!))
      .map((c) => `${c.where}: new ${c.cls}('${c.code!}')`);
    expect(wrong).toEqual([]);
  });

  it('nothing constructs the base class directly', () => {
    expect(constructions.filter((c) => c.cls === 'SimvaultError').map((c) => c.where)).toEqual([]);
  });

  it('every error class of the family is accounted for', () => {
    const family = new Set(['SimvaultError', ...Object.keys(FAMILIES)]);
    const unknown = classes
      .filter((c) => family.has(c.base) && !Object.hasOwn(FAMILIES, c.name))
      .map((c) => `${c.name} extends ${c.base}`);
    expect(unknown).toEqual([]);
  });

  it('every code belongs to exactly one family', () => {
    const orphans = Object.keys(ERROR_CODES).filter(
      (code) => Object.values(FAMILIES).filter((f) => f.codes(code)).length === 0,
    );
    expect(orphans).toEqual([]);
  });

  it('UsageError (exit status 2) is thrown by the command line only', () => {
    const outside = constructions
      .filter((c) => c.cls === 'UsageError' && !c.where.startsWith('src/cli/'))
      .map((c) => c.where);
    expect(outside).toEqual([]);
  });
});
