import { startPureFtpd } from './pure-ftpd.js';
import { startFtpSrv } from './ftp-srv.js';
import { startFaultProxy, type FaultRules } from './fault-proxy.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { pseudoRandomBytes } from './fixtures.js';
function curl(args: string[], input: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('curl', args); let stderr = '';
    c.stderr.on('data', (d) => (stderr += d)); c.stdin.end(input);
    c.on('close', (status) => resolve({ status, stderr }));
  });
}
const tmp = mkdtempSync('/tmp/vmftp-x-');
writeFileSync(`${tmp}/big.bin`, pseudoRandomBytes(5_000_000, 'c'));
for (const start of [startPureFtpd, startFtpSrv]) {
  const s = await start({ root: `${tmp}/root-${start.name}` });
  const all: FaultRules[] = [{ replyToUpload: { code: 552, text: 'Disk full', afterBytes: 50_000 } }, { replyToUpload: { code: 552, text: 'Disk full', afterBytes: 4_999_000 } }, { cutUpload: { afterBytes: 50_000 } }, { stallUpload: { afterBytes: 50_000 } }, { replyToCommand: { command: 'STOR', code: 553, text: 'No' } }, {}];
  for (const rules of all) {
    const p = await startFaultProxy(s, rules);
    const t0 = Date.now();
    const r = await curl(['-sS', '--max-time', '8', '-K', '-', '-T', `${tmp}/big.bin`, `ftp://127.0.0.1:${p.port}/big.bin`], `user = "${s.user}:${s.password}"\n`);
    await new Promise((r) => setTimeout(r, 200));
    console.log(s.kind, JSON.stringify(rules), 'curl rc', r.status, r.stderr.trim(), Date.now() - t0, 'ms', 'remote size', (() => { try { return statSync(`${s.root}/big.bin`).size } catch { return -1 } })());
    console.log('   ', p.log.filter(l => !/USER|PASS/.test(l)).join(' | '));
    await p.stop();
    rmSync(`${s.root}/big.bin`, { force: true });
  }
  await s.stop();
}
rmSync(tmp, { recursive: true, force: true });
