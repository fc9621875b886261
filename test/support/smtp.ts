/**
 * An in-process SMTP server for tests (npm `smtp-server`) on 127.0.0.1, with
 * login required, keeping every message it accepts as raw text and parsed.
 *
 *   const smtp = await startSmtpServer({ user: 'vmftp', password: 'smtp-pw' });
 *   t.after(() => smtp.stop());
 *   ... run vmftp -m against smtp.port ...
 *   const [mail] = smtp.messages;   // mail.raw, mail.parsed.subject, mail.parsed.attachments
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The message exactly as it arrived (headers, MIME parts, base64). */
  readonly raw: string;
  readonly parsed: ParsedMail;
  readonly from: string;
  readonly to: readonly string[];
}

export interface SmtpServerHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly messages: readonly ReceivedMail[];
  /** Login attempts, user names only. */
  readonly logins: readonly string[];
  stop(): Promise<void>;
}

/** Starts the server; it refuses every message from a session that did not log in as `user`/`password`. */
export async function startSmtpServer(options: { user: string; password: string }): Promise<SmtpServerHandle> {
  const messages: ReceivedMail[] = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    // Plain text on loopback: no STARTTLS offered, login allowed without TLS.
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push(auth.username ?? '');
      if (auth.username === options.user && auth.password === options.password) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              raw,
              parsed,
              from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            });
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    messages,
    logins,
    stop: () => (stopped ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
