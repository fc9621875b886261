/**
 * Password and `ca` fields are read while zod validates the file (config/resolve.ts): a field's
 * problem is an issue at its path, told apart from the file's own problems, and every password
 * read is known for masking even when the config as a whole is invalid.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FieldReader, isReadIssue, runSchemas } from '../../src/config/resolve.js';
import { Secret } from '../../src/config/secret.js';
import { tmpDir } from '../support/fixtures.js';

const target = (fields: Record<string, unknown>) => ({ host: 'nas.lan', user: 'backup', remoteDir: '/vm', ...fields });

describe('FieldReader', () => {
  test('a target: the password becomes a Secret, ca the PEM text, the port its default', async (t) => {
    const dir = tmpDir('resolve', t);
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await writeFile(path.join(dir, 'ca.pem'), pem);
    const reader = new FieldReader(dir, { NAS_PW: 'from-env' });
    const parsed = await runSchemas(reader).config.safeParseAsync({ targets: { nas: target({ password: { env: 'NAS_PW' }, ca: 'ca.pem', secure: true }) } });
    assert.ok(parsed.success);
    const nas = parsed.data.targets.nas;
    assert.ok(nas?.password instanceof Secret);
    assert.equal(nas.password.reveal(), 'from-env');
    assert.equal(nas.ca, pem);
    assert.equal(nas.port, 21);
    assert.deepEqual(reader.secrets, [nas.password]);
    assert.equal(reader.noteOn(nas.password), undefined);
  });

  test("a field's problem is an issue at its path, apart from the file's own, and the other passwords are still read", async (t) => {
    const reader = new FieldReader(tmpDir('resolve', t), { OTHER: 'other-pw' });
    const parsed = await runSchemas(reader).config.safeParseAsync({
      targets: { nas: target({ port: 'twenty-one', password: { env: 'MISSING' } }), offsite: target({ password: { env: 'OTHER' } }) },
    });
    assert.ok(!parsed.success);
    const read = parsed.error.issues.filter(isReadIssue);
    assert.deepEqual(read.map((issue) => [issue.path.join('.'), issue.message]), [['targets.nas.password', 'environment variable MISSING is not set']]);
    assert.deepEqual(parsed.error.issues.filter((issue) => !isReadIssue(issue)).map((issue) => issue.path.join('.')), ['targets.nas.port']);
    assert.deepEqual(reader.secrets.map((secret) => secret.reveal()), ['other-pw']);
  });

  test('a password written in the file works, with a note that follows its path and holds no value', async (t) => {
    const reader = new FieldReader(tmpDir('resolve', t), {});
    const parsed = await runSchemas(reader).mail.safeParseAsync({ from: 'a@b', to: 'c@d', smtp: { host: 'm', user: 'u', password: 'in-clear' } });
    assert.ok(parsed.success);
    const secret = parsed.data.smtp.password;
    assert.ok(secret !== undefined);
    assert.equal(reader.noteOn(secret), ' is written in the config file; prefer { env: ... } or { file: ... }');
    assert.equal(parsed.data.smtp.port, 587);
  });
});
