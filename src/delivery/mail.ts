import path from 'node:path';
import { format } from 'date-fns/format';
import type { MailConfig } from '../config/types.js';
import { ExitCode } from '../errors.js';
import type { Redactor } from './redact.js';
import { verdict, type RunSummary } from '../report/summary.js';

/** The report e-mail, ready to send; every text in it has been through the redactor. */
export interface ReportMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly attachment: { readonly filename: string; readonly content: string };
}

export interface MailContext {
  /** This run's log, as the log file holds it. */
  readonly log: string;
  /** `log.file`, when set: the attachment takes its name. */
  readonly logFile?: string;
  readonly configPath?: string;
  readonly startedAt: Date;
}

/**
 * A scheduled task must not hang on a dead mail server: connect, greeting
 * and each reply get this long (nodemailer's defaults are 2 min and 10 min).
 */
const SMTP_TIMEOUT_MS = 30_000;

/**
 * Returns the e-mail for a run: the subject says success or failure at a
 * glance (`subject` / `subjectOnError`, or `vmftp: INCOMPLETE` when the
 * deadline deferred uploads, then the totals), the body holds the
 * summary table (plain text, and the same in <pre> for mail clients with
 * proportional fonts), the run's log is attached.
 */
export function composeMail(mail: MailConfig, summary: RunSummary, context: MailContext, redact: Redactor): ReportMail {
  const prefix =
    summary.exitCode === ExitCode.Ok
      ? (mail.subject ?? 'vmftp: OK')
      : summary.exitCode === ExitCode.Deferred
        ? 'vmftp: INCOMPLETE'
        : (mail.subjectOnError ?? 'vmftp: FAILED');
  const filename = context.logFile === undefined ? 'vmftp.log' : path.basename(context.logFile);
  const text = redact(
    [
      verdict(summary),
      `started ${format(context.startedAt, 'yyyy-MM-dd HH:mm:ss xxx')}${context.configPath === undefined ? '' : `, config ${context.configPath}`}`,
      '',
      summary.text,
      '',
      `The run's log is attached (${filename}).`,
    ].join('\n'),
  );
  return {
    subject: redact(`${prefix} — ${summary.headline}`).replace(/[\r\n]+/g, ' '),
    text,
    html: `<pre style="font-family: Consolas, Menlo, monospace; font-size: 13px">${escapeHtml(text)}</pre>`,
    attachment: { filename, content: redact(context.log) },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char] ?? char);
}

/**
 * Sends the report e-mail through `mail.smtp`. Rejects with an Error whose
 * message names the server and what went wrong (the caller redacts it and
 * reports it; the run's exit code does not change).
 */
export async function sendMail(mail: MailConfig, message: ReportMail): Promise<void> {
  const { smtp } = mail;
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user === undefined ? {} : { auth: { user: smtp.user, pass: smtp.password?.reveal() ?? '' } }),
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  try {
    await transport.sendMail({
      from: mail.from,
      to: typeof mail.to === 'string' ? mail.to : [...mail.to],
      subject: message.subject,
      text: message.text,
      html: message.html,
      attachments: [{ filename: message.attachment.filename, content: message.attachment.content, contentType: 'text/plain; charset=utf-8' }],
    });
  } catch (error) {
    throw new Error(`sending the report to ${String(mail.to)} through ${smtp.host}:${smtp.port} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    transport.close();
  }
}
