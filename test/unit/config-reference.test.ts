/**
 * README's "Config reference" lists every field of the config schema, and
 * nothing else: adding a field without documenting it (or removing one and
 * leaving its row) fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { schemaFields } from '../support/schema-fields.js';

const README = new URL('../../README.md', import.meta.url);

/** The first-column field names of the README's config reference table. */
function documentedFields(): string[] {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('### Config reference');
  assert.ok(start >= 0, 'README.md has a "### Config reference" section');
  const section = text.slice(start).split(/\n#{2,3} /)[0] ?? '';
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1] ?? '');
}

describe('README config reference', () => {
  test('documents every schema field, and only those', () => {
    const schema = schemaFields(configSchema);
    const documented = documentedFields();
    const missing = schema.filter((field) => !documented.includes(field));
    const stale = documented.filter((field) => !schema.includes(field));
    assert.deepEqual(missing, [], `fields missing from README "Config reference": ${missing.join(', ')}`);
    assert.deepEqual(stale, [], `README documents fields the schema no longer has: ${stale.join(', ')}`);
    assert.equal(new Set(documented).size, documented.length, 'each field once');
  });

  test('the walk sees nested, record and union fields (it can fail)', () => {
    const fields = schemaFields(configSchema);
    for (const field of ['targets.*.host', 'keep.daily', 'vms.*.targets', 'mail.smtp.password', 'log.keep', 'notify.url']) {
      assert.ok(fields.includes(field), field);
    }
  });
});

describe('log and notify settings', () => {
  const base = { source: '/b', targets: { nas: { host: 'nas', user: 'u', password: 'p', remoteDir: '/vm' } } };

  test('log.keep defaults to 10 and takes 0; notify needs a URL and defaults to POST with 10 s', () => {
    const ok = validateConfig({ ...base, log: { file: 'vmftp.log' }, notify: { url: 'https://hc-ping.com/abc' } });
    assert.ok(ok.ok);
    assert.equal(ok.value.log?.keep, 10);
    assert.deepEqual(ok.value.notify, { url: 'https://hc-ping.com/abc', method: 'POST', timeoutSeconds: 10 });
    assert.ok(validateConfig({ ...base, log: { keep: 0 } }).ok);
  });

  test('bad values are named by their field', () => {
    const bad = validateConfig({ ...base, log: { keep: -1 }, notify: { url: 'hc-ping.com/abc', method: 'PUT', timeoutSeconds: 0 } });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems, [
      'log.keep: expected a whole number >= 0 (old logs to keep), got -1',
      'notify.url: expected an http:// or https:// URL, got "hc-ping.com/abc"',
      'notify.method: expected one of "GET", "POST", got "PUT"',
      'notify.timeoutSeconds: expected a number of seconds above 0, got 0',
    ]);
    const empty = validateConfig({ ...base, notify: {} });
    assert.ok(!empty.ok);
    assert.deepEqual(empty.problems, ['notify: sets no URL: give url (healthchecks style) or at least one of start, success, failure']);
  });
});

describe('maxAge settings', () => {
  const target = { host: 'nas', user: 'u', password: 'p', remoteDir: '/vm' };
  const base = { source: '/b', targets: { nas: target } };

  test("defaults to '8d'; takes a duration or false at the top, per target and per VM", () => {
    const defaults = validateConfig(base);
    assert.ok(defaults.ok);
    assert.equal(defaults.value.maxAge, '8d');
    const set = validateConfig({
      ...base,
      maxAge: '36h',
      targets: { nas: { ...target, maxAge: '4d' } },
      vms: { Old: { targets: ['nas'], maxAge: false }, '*': 'nas' },
    });
    assert.ok(set.ok);
    assert.equal(set.value.maxAge, '36h');
    assert.equal(set.value.targets.nas?.maxAge, '4d');
    assert.deepEqual(set.value.vms?.Old, { targets: ['nas'], maxAge: false });
  });

  test('bad values are named by their field', () => {
    const bad = validateConfig({ ...base, maxAge: '36 hours', targets: { nas: { ...target, maxAge: true } }, vms: { Bart: { targets: ['nas'], maxAge: '0h' } } });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems, [
      'maxAge: expected a duration like "30d" or "1y2m3d4h" (units y, m, d, h), got "36 hours"',
      'targets.nas.maxAge: expected a duration like "36h" or "8d" (units y, m, d, h), or false (no check), got true',
      'vms.Bart.maxAge: expected a duration above zero, got "0h"',
    ]);
  });
});
