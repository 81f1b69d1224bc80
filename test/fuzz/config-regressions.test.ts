/**
 * Regression tests for what the config fuzzing found.
 *
 * 1. YAML aliases. A config
 * whose alias refers to itself (`a: &a [*a]`) made parseConfigText recurse
 * until the stack overflowed (RangeError from substituteEnv), and an alias
 * bomb ("billion laughs") came out as the yaml library's ReferenceError; both
 * crashed `check-config` with a stack trace (exit 1) instead of a
 * `path: message` line and exit 2. Both must be a ConfigError naming the file.
 *
 * 2. A YAML syntax error quoted the tokens around it, password included
 *    (`Unexpected scalar token in YAML stream: "the-password"`), and
 *    `check-config` / `run` print those lines: a secret in the output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

const FILE = '/etc/kassir-agent/agent.yaml';

function refusedAsConfigError(text: string): void {
  assert.throws(
    () => parseConfigText(text, FILE, {}),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      assert.equal(e.file, FILE);
      return true;
    },
  );
}

describe('config: YAML aliases (found by the fuzzer)', () => {
  it('an alias that refers to itself is a ConfigError, not a stack overflow', () => {
    refusedAsConfigError('a: &a [*a]\n');
    refusedAsConfigError('pos: 1\ntill: &t {dir: x, referenceFile: POS1.spr, again: *t}\n');
  });

  it('an alias bomb (billion laughs) is a ConfigError, not the yaml library\'s ReferenceError', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    const names = 'abcdefgh';
    for (let i = 1; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(',')}]`);
    refusedAsConfigError(lines.join('\n') + '\n');
  });
});

describe('config: YAML syntax errors (found by the fuzzer)', () => {
  it('never quote the password of the broken file', () => {
    const secret = 'Zq7-secret-PW';
    // The first line lost its key (a torn edit): every line after it is a syntax error.
    const text = `\n  dir: till\ntransport:\n  type: ftp\n  host: ftp.example\n  password: ${secret}\n  referenceName: Files/POS1.spr\n`;
    assert.throws(
      () => parseConfigText(text, FILE, {}),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        for (const p of e.problems) assert.ok(!p.message.includes(secret), `${p.path}: ${p.message}`);
        assert.ok(!e.message.includes(secret));
        return true;
      },
    );
  });
});
