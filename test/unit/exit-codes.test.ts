/**
 * Exit codes have one table in code (errors.ts): the summary's verdict and --help are made from
 * it, and the README's and docs/design.md's tables list exactly its codes, so a new code (or a
 * removed one) cannot be documented in one place and not the other.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { describeExitCode, EXIT_CODE_MEANINGS, ExitCode, exitCodeHelp } from '../../src/errors.js';

const CODES = Object.values(ExitCode);

/** The codes in the first column of the markdown table under `heading` in `file`. */
function documentedCodes(file: string, heading: string): number[] {
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  const start = text.indexOf(heading);
  assert.ok(start >= 0, `${file} has "${heading}"`);
  const section = text.slice(start).split(/\n#{2,3} /)[0] ?? '';
  return [...section.matchAll(/^\| (\d+) \|/gm)].map((match) => Number(match[1]));
}

describe('exit codes', () => {
  test('every code has its meaning in the table, and the verdict words come from it', () => {
    assert.deepEqual(Object.keys(EXIT_CODE_MEANINGS).map(Number), [...CODES].sort((a, b) => a - b));
    assert.equal(describeExitCode(ExitCode.Unreachable), 'a target could not be reached or refused the login');
    assert.equal(describeExitCode(ExitCode.Interrupted), 'interrupted');
  });

  test('--help lists every code once, in order, with its meaning', () => {
    const lines = exitCodeHelp().split('\n');
    assert.deepEqual(lines.map((line) => Number(line.trim().split(/\s+/)[0])), [...CODES].sort((a, b) => a - b));
    assert.equal(lines[2], '  2    usage or config error, nothing was changed');
    // Code 1 is also the answer to a VM nobody sends, a VM too old and a failed -x command: --help says so as the README does.
    for (const cause of ['no target in vms', 'maxAge', '-x command']) assert.ok(lines[1]?.includes(cause), lines[1]);
    assert.equal(lines[5], '  5    deferred: the window closed, unfinished backups resume next run (--max-duration, --stop-at, window.end: they stay as .partial)');
    assert.equal(lines.at(-1), '  130  interrupted (SIGINT/SIGTERM/SIGHUP)');
  });

  test("the README's and docs/design.md's tables list exactly the codes of the table", () => {
    const codes = [...CODES].sort((a, b) => a - b);
    assert.deepEqual(documentedCodes('README.md', '### Exit codes'), codes);
    assert.deepEqual(documentedCodes('docs/design.md', '## Errors, retries and exit codes'), codes);
  });
});
