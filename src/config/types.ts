import type { KeepPolicy, MaxAge, VmRoute } from '../core/model.js';
import type { Secret } from './secret.js';

/** Where a password comes from, as written in the config file. */
export type PasswordSource = string | { readonly env: string } | { readonly file: string };

export type VerifyMode = 'size' | 'hash' | 'none';
export type UploadMethod = 'internal' | 'curl' | 'ncftpput';

/** One FTP server, validated, defaults applied, password resolved. */
export interface TargetConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: Secret;
  /** Absolute remote folder, `/`-separated, no trailing slash except for the root `/`. */
  readonly remoteDir: string;
  /** false: plain FTP; true: explicit FTPS (AUTH TLS); 'implicit': implicit FTPS. */
  readonly secure: boolean | 'implicit';
  readonly allowSelfSigned: boolean;
  /**
   * `-u curl` on Windows: curl.exe (Schannel) skips the certificate revocation check
   * (`--ssl-no-revoke`), for hosts that cannot reach their CA's revocation server.
   */
  readonly sslNoRevoke?: boolean;
  /** PEM text of the CA that signs the server certificate, read from the `ca` path. */
  readonly ca?: string;
  readonly maxConnections: number;
  readonly activeMode: boolean;
  readonly timeoutSeconds: number;
  /** Idle seconds before TCP keepalive probes on the control connection (routers forget idle connections). */
  readonly keepaliveSeconds: number;
  /** Times a transient failure (421, 425, 426, 450, 451, reset, timeout) is retried; permanent ones never are. */
  readonly retries: number;
  /** Wait before the first retry; doubled after each further failure. */
  readonly retryDelaySeconds: number;
  readonly verify: VerifyMode;
  readonly keep?: KeepPolicy;
  readonly maxAge?: MaxAge;
}

export interface MailConfig {
  readonly from: string;
  readonly to: string | readonly string[];
  readonly subject?: string;
  readonly subjectOnError?: string;
  readonly smtp: {
    readonly host: string;
    readonly port: number;
    readonly secure: boolean;
    readonly user?: string;
    readonly password?: Secret;
  };
}

/** Where to ping, per moment of the run; a moment without a URL is not pinged. */
export interface NotifyConfig {
  readonly start?: string;
  readonly success?: string;
  readonly failure?: string;
  readonly method: 'GET' | 'POST';
  readonly timeoutSeconds: number;
}

/** The configuration a run works with: file, then flags, defaults filled in. */
export interface ResolvedConfig {
  /** Absolute path of the config file, when one was loaded. */
  readonly configPath?: string;
  /** Absolute local backup root. */
  readonly source: string;
  readonly keep: KeepPolicy;
  /** `-n`, when the user typed it. */
  readonly keepOverride?: number;
  /** Config `maxAge`: the newest backup of a VM on a target older than this after a run fails it. */
  readonly maxAge: MaxAge;
  readonly targets: Readonly<Record<string, TargetConfig>>;
  /** VM name or `'*'` -> route; targets named here exist in `targets`. */
  readonly vms: Readonly<Record<string, VmRoute>>;
  readonly mail?: MailConfig;
  /** Absolute path of the run's lock file. */
  readonly lockFile: string;
  /** Absolute path of the log file (config `log.file`), when one is set. */
  readonly logFile?: string;
  /** Old logs kept beside `logFile` (`vmftp.log.1` … `.N`); default 10. */
  readonly logKeep: number;
  readonly notify?: NotifyConfig;
  readonly uploadMethod: UploadMethod;
  readonly deleteFirst: boolean;
}

/**
 * What reports a run: the log file, the e-mail and the pings. A run that stops before it starts
 * (a config error elsewhere in the file, -m without mail...) still reports through these.
 */
export interface Reporting {
  readonly configPath?: string;
  readonly logFile?: string;
  readonly logKeep: number;
  readonly mail?: MailConfig;
  readonly notify?: NotifyConfig;
  /** Every password known, to mask them wherever they turn up. */
  readonly secrets: readonly Secret[];
  /** Blocks that are written but broken: nothing goes out through them, and the run says so. */
  readonly broken: readonly ('mail' | 'notify' | 'log')[];
}
