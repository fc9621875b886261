// vmftp.config.ts: every setting vmftp reads, with its default.
// Copy this file next to where vmftp runs (or pass -c <file>) and delete what you do not need.
// Relative paths are relative to this file's folder. Flags typed on the command line win over this file.
import { defineConfig } from 'vmftp';

export default defineConfig({
  // Local folder the backup job writes <VM>/<yyyy-MM-dd-HHmmss>/ into. Required here or as -f <folder>.
  source: 'C:\\VirtualMachinesBackUps',

  // Backups to keep per VM on each server (default 3; -n overrides every keep).
  // A number keeps the N newest; an object is a GFS policy, as in restic forget:
  // { last, hourly, daily, weekly, monthly, yearly, within: '30d' }.
  keep: 3,

  // After the run, a VM whose newest complete backup on a server is older than this fails the run (exit 1):
  // the backup job stopped producing it, or its uploads keep failing. Default '8d' (quiet for nightly,
  // weekdays-only and weekly jobs); '36h' for a job that runs every night; false: no check.
  // Per target and per VM as well, like keep.
  maxAge: '36h',

  // Bytes per second for all uploads together (default: no limit; --bwlimit replaces it), in rclone's
  // syntax: '10M', '512k', 'off', or a timetable in local time, also per weekday ('Mon-08:00,1M').
  bwlimit: '08:00,512k 19:00,10M 23:00,off',

  targets: {
    nas: {
      host: 'nas.lan',
      port: 21, // default 21; 990 when secure is 'implicit'
      user: 'backup',
      // Never write the password itself here: read it from an environment variable...
      password: { env: 'VMFTP_NAS_PASSWORD' },
      // Absolute folder on the server; backups go to <remoteDir>/<VM>/<stamp>.
      remoteDir: '/vm',
      secure: false, // false: plain FTP (default); true: explicit FTPS (AUTH TLS); 'implicit': implicit FTPS
      maxConnections: 2, // parallel transfers (default 2); many servers refuse a 3rd with 421
      timeoutSeconds: 30, // per FTP command (default 30)
      keepaliveSeconds: 60, // TCP keepalive on the control connection, so a router keeps it through a long upload (default 60)
      retries: 3, // retries of a transient failure (421, 426, reset, timeout), resuming uploads (default 3)
      retryDelaySeconds: 2, // wait before the first retry, doubled after each (default 2)
      verify: 'size', // 'size' (default), 'hash' (HASH/XSHA256/XMD5/XCRC when the server has one), 'none'
      activeMode: false, // default false; active mode needs -u curl or -u ncftpput
    },
    offsite: {
      host: 'ftp.example.net',
      user: 'vm',
      // ...or from a file (its trailing newline is dropped); chmod 600 it.
      password: { file: './secrets/offsite-password.txt' },
      remoteDir: '/',
      secure: true,
      allowSelfSigned: false, // default false: the server certificate is checked
      ca: './certs/offsite-ca.pem', // PEM file of the CA that signed the server certificate
      sslNoRevoke: false, // -u curl on Windows: true skips Schannel's revocation check (curl exit 35, CRYPT_E_NO_REVOCATION_CHECK)
      keep: { daily: 7, weekly: 4, monthly: 12 }, // this server's own retention
      maxAge: '4d', // this server's own age limit (it gets the weekday backups only, say)
      bwlimit: '2M', // this server's uploads together, within the bwlimit above
    },
  },

  // Which VM goes where: a target name, a list of them, or { targets, keep, maxAge, priority } with the
  // VM's own retention, age limit and upload priority (higher first; default 0).
  // '*' is every VM not named. Without vms, every VM goes to every target.
  vms: {
    Bart: 'nas',
    Raoul: ['nas', 'offsite'],
    Homer: { targets: ['offsite'], keep: { last: 2, within: '14d' }, priority: 10 }, // uploads ahead of the others
    Old: { targets: ['nas'], maxAge: false }, // retired: its last backups stay on nas, no age check
    '*': 'nas',
  },

  // The report e-mail, sent with -m.
  mail: {
    from: 'vmftp@lan',
    to: ['ops@lan', 'backup-admin@lan'], // one address or a list
    subject: 'vmftp: backups sent', // default 'vmftp: OK'; ' — 3 uploaded, 1 deleted' follows
    subjectOnError: 'vmftp: backups FAILED', // default 'vmftp: FAILED'; ' — what failed' follows
    smtp: {
      host: 'mail.lan',
      port: 587, // default 587; 465 when secure is true
      secure: false, // true: TLS from the start (port 465); false: STARTTLS when the server offers it
      user: 'vmftp',
      password: { env: 'VMFTP_SMTP_PASSWORD' },
    },
  },

  log: {
    file: 'C:\\vmftp\\logs\\vmftp.log', // the last backup run's log (-d, -S and refused runs add to it); a run's lines are attached to its e-mail
    keep: 10, // older backup runs kept as vmftp.log.1 ... vmftp.log.10 (default 10; 0 keeps none)
  },

  // Pings for a monitoring service, healthchecks.io style: url/start, url (success), url/fail.
  // A ping that fails is a warning, never a failed run.
  notify: {
    url: 'https://hc-ping.com/your-check-uuid',
    // start: 'https://...', success: 'https://...', failure: 'https://...', // or one URL per moment
    method: 'POST', // 'POST' (default) sends the summary as the body; 'GET' sends nothing
    timeoutSeconds: 10, // default 10
  },

  // The night's window: at 07:00 (the next 07:00 after the run starts, local time) no new transfer
  // starts and the running ones stop; they stay as <STAMP>.partial and the next run resumes them
  // (exit code 5). With --max-duration or --stop-at as well, the earlier deadline wins.
  window: { end: '07:00' },

  // One run at a time per config. Default: next to log.file, named after it (vmftp.lock); else in the temp folder, named after this file's path.
  lockFile: 'C:\\vmftp\\logs\\vmftp.lock',
});
