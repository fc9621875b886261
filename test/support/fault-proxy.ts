/**
 * A TCP fault-injection proxy for FTP (toxiproxy-style, FTP-aware), placed in front of a real
 * server (ftp-srv or pure-ftpd) on 127.0.0.1:
 *
 *   const proxy = await startFaultProxy(server, { cutUpload: { match: 'disk1.vmdk', afterBytes: 65536 } });
 *   t.after(() => proxy.stop());
 *   await client.access({ host: proxy.host, port: proxy.port, user: server.user, password: server.password });
 *
 * Control connection: forwarded line by line (CRLF). Passive replies (`227 ... (h1,h2,h3,h4,p1,p2)`
 * and `229 ... (|||port|)`) are rewritten to point at a one-shot data listener of the proxy,
 * which forwards to the server's data port. Multi-line replies pass through whole.
 *
 * Upload rules look at the file name of the most recent STOR/APPE/STOU on that control
 * connection when data flows (clients open the data connection before they send STOR).
 * `match` is a substring of, or a RegExp tested on, the argument as the client sent it (a bare
 * name or a path); no `match` means every upload. `afterBytes` counts the bytes of that one
 * transfer (an APPE resume counts from 0). `times` (default 1) is how many uploads the rule
 * acts on; an upload that ends before `afterBytes` is neither faulted nor counted. At most one
 * upload rule acts on one upload: cutUpload before replyToUpload before stallUpload.
 *
 * - cutUpload: after `afterBytes` bytes the client's data AND control connections are reset
 *   (RST, like a network cut). The server gets exactly `afterBytes` bytes and a normal end of
 *   data, so its file is that long; the proxy closes the server's control connection once the
 *   server has answered the transfer (or after 5 s).
 * - replyToUpload: after `afterBytes` (default 0) bytes, the server gets a normal end of data
 *   (its file keeps what it received) and the client gets `code text` (e.g. 552 Disk full,
 *   452) instead of the server's final reply, which is swallowed. The client's data connection
 *   is drained and dropped (bytes discarded) until the client closes it, at most 5 s. The
 *   session stays usable: the next command reaches the server as usual.
 * - replyToCommand: the first `times` (default 1) commands with that verb (and an argument
 *   matching `match`) are answered with `code text` and never reach the server. One rule or a
 *   list of them.
 * - stallCommand: the first `times` (default 1) commands with that verb (and an argument matching
 *   `match`) are swallowed: they never reach the server and get no reply, as from a server that
 *   stopped answering on the control connection. One rule or a list of them.
 * - refuseConnectionNumber: the n-th control connection since the proxy started (1-based) gets
 *   `421 Too many connections` and is closed without reaching the server.
 * - stallUpload: after `afterBytes` bytes nothing more is forwarded and the client's data
 *   connection is held open (not read, so the client's writes back up) until stop().
 * - corruptUpload: the byte at `afterBytes` of the upload reaches the server inverted; everything
 *   else, the end of data and the replies pass as usual (a bit flip no size check can see).
 * - hideFeatures: FEAT replies reach the client without the lines of these features (e.g. 'HASH'),
 *   as from a server that does not offer them.
 * - roundTripMs: a link with this round trip (netem, which these kernels lack, in userspace): what
 *   the proxy receives on any connection, either way (bytes, end, close), is passed on half of it
 *   later, in order. TCP handshakes are not delayed: a data connection opens at once.
 *
 * setRules() replaces every rule and its `times` counters; the connection count keeps running.
 * `log` lists every command the clients sent (PASS shown as `PASS ****`).
 * Clients must not pipeline commands (basic-ftp, curl and lftp don't).
 */
import net from 'node:net';

export type NameMatch = string | RegExp;

export interface CutUploadRule {
  match?: NameMatch;
  afterBytes: number;
  times?: number;
}
export interface ReplyToUploadRule {
  match?: NameMatch;
  code: number;
  text: string;
  afterBytes?: number;
  times?: number;
}
export interface StallUploadRule {
  match?: NameMatch;
  afterBytes: number;
  times?: number;
}
export interface ReplyToCommandRule {
  /** FTP verb, case-insensitive: 'RNTO', 'DELE', 'RMD', 'MKD', 'SIZE', ... */
  command: string;
  /** Tested on the command's argument. */
  match?: NameMatch;
  code: number;
  text: string;
  times?: number;
}
export interface StallCommandRule {
  /** FTP verb, case-insensitive. */
  command: string;
  /** Tested on the command's argument. */
  match?: NameMatch;
  times?: number;
}
export interface CorruptUploadRule {
  match?: NameMatch;
  afterBytes: number;
  times?: number;
}
export interface FaultRules {
  cutUpload?: CutUploadRule;
  corruptUpload?: CorruptUploadRule;
  hideFeatures?: string[];
  replyToUpload?: ReplyToUploadRule;
  replyToCommand?: ReplyToCommandRule | ReplyToCommandRule[];
  stallCommand?: StallCommandRule | StallCommandRule[];
  refuseConnectionNumber?: number;
  stallUpload?: StallUploadRule;
  roundTripMs?: number;
}

export interface FaultProxyHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Commands the clients sent, in order, PASS masked. */
  readonly log: string[];
  /** Control connections accepted so far (including refused ones). */
  readonly connections: number;
  setRules(rules: FaultRules): void;
  /** Closes every socket and listener. Safe to call more than once. */
  stop(): Promise<void>;
}

interface UploadRule {
  kind: 'cut' | 'reply' | 'stall' | 'corrupt';
  match?: NameMatch;
  afterBytes: number;
  left: number;
  reply?: string;
}
interface CommandRule {
  verb: string;
  match?: NameMatch;
  /** Empty: swallow the command, no reply. */
  reply: string;
  left: number;
}
interface Rules {
  uploads: UploadRule[];
  commands: CommandRule[];
  refuse?: number;
  hiddenFeatures: Set<string>;
  /** Each way: half the round trip. */
  oneWayDelayMs: number;
}

interface Session {
  client: net.Socket;
  upstream: net.Socket;
  /** Verb of the latest command forwarded to the server. */
  lastVerb?: string;
  /** File name of the latest upload command, until its final reply. */
  uploadName?: string;
  /** An upload command was forwarded and the server's final reply (>= 200) has not come yet. */
  awaitingUploadReply: boolean;
  swallowUploadReply: boolean;
  closeUpstreamAfterUploadReply: boolean;
  /** Client was cut: its close must not close the server side early. */
  cut: boolean;
  /** Everything written to the client goes through this chain, in order. */
  toClient: Promise<void>;
}

const UPLOADS = new Set(['STOR', 'APPE', 'STOU']);
const OTHER_TRANSFERS = new Set(['RETR', 'LIST', 'NLST', 'MLSD']);
const GRACE_MS = 5000;
const DATA_ACCEPT_TIMEOUT_MS = 30_000;

function matches(m: NameMatch | undefined, s: string): boolean {
  if (m === undefined) return true;
  return typeof m === 'string' ? s.includes(m) : s.search(m) >= 0;
}

function compile(r: FaultRules): Rules {
  const uploads: UploadRule[] = [];
  if (r.cutUpload) uploads.push({ kind: 'cut', match: r.cutUpload.match, afterBytes: r.cutUpload.afterBytes, left: r.cutUpload.times ?? 1 });
  if (r.replyToUpload) {
    const x = r.replyToUpload;
    uploads.push({ kind: 'reply', match: x.match, afterBytes: x.afterBytes ?? 0, left: x.times ?? 1, reply: `${x.code} ${x.text}\r\n` });
  }
  if (r.corruptUpload) {
    uploads.push({ kind: 'corrupt', match: r.corruptUpload.match, afterBytes: r.corruptUpload.afterBytes, left: r.corruptUpload.times ?? 1 });
  }
  if (r.stallUpload) uploads.push({ kind: 'stall', match: r.stallUpload.match, afterBytes: r.stallUpload.afterBytes, left: r.stallUpload.times ?? 1 });
  const commandRules = r.replyToCommand === undefined ? [] : Array.isArray(r.replyToCommand) ? r.replyToCommand : [r.replyToCommand];
  const stallRules = r.stallCommand === undefined ? [] : Array.isArray(r.stallCommand) ? r.stallCommand : [r.stallCommand];
  const commands = [
    ...commandRules.map((c) => ({ verb: c.command.toUpperCase(), match: c.match, reply: `${c.code} ${c.text}\r\n`, left: c.times ?? 1 })),
    ...stallRules.map((c) => ({ verb: c.command.toUpperCase(), match: c.match, reply: '', left: c.times ?? 1 })),
  ];
  return {
    uploads,
    commands,
    refuse: r.refuseConnectionNumber,
    hiddenFeatures: new Set((r.hideFeatures ?? []).map((name) => name.toUpperCase())),
    oneWayDelayMs: (r.roundTripMs ?? 0) / 2,
  };
}

/** The events by which a socket hands on what it received: delayed together, so they keep their order. */
const ARRIVALS = new Set<string | symbol>(['data', 'end', 'close']);

/** Makes `sock` hand on what it receives `delayMs()` after it arrived (its 'data', 'end' and 'close' events). */
function delayArrivals(sock: net.Socket, delayMs: () => number): void {
  const emit = sock.emit.bind(sock);
  sock.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    const delay = delayMs();
    if (delay <= 0 || !ARRIVALS.has(event)) return emit(event, ...args);
    // Timers of one duration fire in the order they were set.
    setTimeout(() => emit(event, ...args), delay);
    return true;
  }) as typeof sock.emit;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** Calls onLine for every CRLF/LF-terminated line (without the line end). */
function onLines(sock: net.Socket, onLine: (line: string) => void): void {
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      onLine(buf.subarray(0, nl).toString('utf8').replace(/\r$/, ''));
      buf = buf.subarray(nl + 1);
    }
  });
}

export async function startFaultProxy(upstream: { host: string; port: number }, initialRules: FaultRules = {}): Promise<FaultProxyHandle> {
  if (!isLoopback(upstream.host)) throw new Error(`fault proxy: upstream must be a loopback address, got ${upstream.host}`);
  let rules = compile(initialRules);
  let connections = 0;
  let stopped = false;
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const dataServers = new Set<net.Server>();
  const timers = new Set<NodeJS.Timeout>();

  const track = (sock: net.Socket): net.Socket => {
    sockets.add(sock);
    delayArrivals(sock, () => rules.oneWayDelayMs);
    sock.on('error', () => undefined); // every close is handled through 'close'
    sock.once('close', () => sockets.delete(sock));
    return sock;
  };
  /** Runs fn after ms unless cancelled or stopped; returns the cancel function. */
  const later = (ms: number, fn: () => void): (() => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
    return () => {
      clearTimeout(timer);
      timers.delete(timer);
    };
  };
  /** Queues work on the session's ordered path to the client; a failure drops the client. */
  const queue = (s: Session, fn: () => void | Promise<void>): void => {
    s.toClient = s.toClient.then(fn).catch(() => void s.client.destroy());
  };
  const sendToClient = (s: Session, text: string): void =>
    queue(s, () => {
      if (!s.client.destroyed) s.client.write(text);
    });

  /** The client is gone for good (network cut): reset it, close the server side once the server is done. */
  const cutSession = (s: Session): void => {
    s.cut = true;
    s.client.resetAndDestroy();
    if (s.awaitingUploadReply) {
      s.swallowUploadReply = true;
      s.closeUpstreamAfterUploadReply = true;
      later(GRACE_MS, () => s.upstream.end());
    } else {
      s.upstream.end();
    }
  };

  /** A one-shot listener for one passive data connection, forwarding to the server's data port. */
  const openDataListener = (s: Session, upstreamPort: number): Promise<number> => {
    if (stopped) return Promise.reject(new Error('fault proxy stopped'));
    const close = () => {
      listener.close();
      dataServers.delete(listener);
    };
    const cancelTimeout = later(DATA_ACCEPT_TIMEOUT_MS, close);
    const listener = net.createServer({ pauseOnConnect: true }, (client) => {
      close();
      cancelTimeout();
      if (stopped) return void client.destroy();
      handleData(s, track(client), upstreamPort);
    });
    dataServers.add(listener);
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(0, '127.0.0.1', () => resolve((listener.address() as net.AddressInfo).port));
    });
  };

  const handleData = (s: Session, client: net.Socket, upstreamPort: number): void => {
    const up = track(net.connect({ host: upstream.host, port: upstreamPort }));
    up.once('connect', () => client.resume());
    let rule: UploadRule | undefined;
    let decided = false;
    let forwarded = 0;
    let serverEnded = false; // we sent the server its end of data
    let detached = false; // a rule acted: the client side no longer mirrors the server side
    let held = false; // stalled until stop()

    // Server -> client (downloads, listings).
    up.on('data', (chunk: Buffer) => {
      if (!detached && !client.write(chunk)) {
        up.pause();
        client.once('drain', () => up.resume());
      }
    });
    up.on('end', () => {
      if (!detached) client.end();
    });
    up.on('close', (hadError) => {
      if (hadError && !detached) client.destroy();
    });

    const decide = () => {
      if (decided) return;
      decided = true;
      const name = s.uploadName;
      if (name !== undefined) rule = rules.uploads.find((r) => r.left > 0 && matches(r.match, name));
    };
    const forward = (buf: Buffer) => {
      if (buf.length === 0) return;
      forwarded += buf.length;
      if (!up.write(buf)) {
        client.pause();
        up.once('drain', () => {
          if (!held) client.resume();
        });
      }
    };
    const endServer = () => {
      serverEnded = true;
      up.end();
    };
    const fire = (r: UploadRule) => {
      r.left--;
      detached = true;
      if (r.kind === 'cut') {
        endServer();
        client.resetAndDestroy();
        cutSession(s);
      } else if (r.kind === 'reply') {
        endServer();
        s.swallowUploadReply = s.awaitingUploadReply;
        sendToClient(s, r.reply ?? '');
        later(GRACE_MS, () => client.destroy()); // drain until the client drops it
      } else {
        held = true;
        client.pause();
      }
    };

    // Client -> server (uploads), with the rules.
    client.on('data', (chunk: Buffer) => {
      if (detached) return; // a rule acted: discard
      decide();
      if (rule?.kind === 'corrupt') {
        if (rule.left > 0 && forwarded <= rule.afterBytes && rule.afterBytes < forwarded + chunk.length) {
          rule.left--;
          const copy = Buffer.from(chunk);
          const at = rule.afterBytes - forwarded;
          copy[at] = (copy[at] ?? 0) ^ 0xff;
          return forward(copy);
        }
        return forward(chunk);
      }
      if (rule && rule.left > 0 && forwarded + chunk.length >= rule.afterBytes) {
        forward(chunk.subarray(0, Math.max(0, rule.afterBytes - forwarded)));
        return fire(rule);
      }
      forward(chunk);
    });
    client.on('end', () => {
      if (detached) return;
      decide();
      if (rule && rule.kind !== 'corrupt' && rule.left > 0 && forwarded >= rule.afterBytes) return fire(rule);
      endServer();
    });
    client.on('close', () => {
      if (!serverEnded && !held) up.destroy();
    });
  };

  const onCommand = (s: Session, line: string): void => {
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? '' : line.slice(space + 1);
    log.push(verb === 'PASS' ? 'PASS ****' : line);
    const rule = rules.commands.find((r) => r.left > 0 && r.verb === verb && matches(r.match, arg));
    if (rule) {
      rule.left--;
      if (rule.reply !== '') sendToClient(s, rule.reply);
      return;
    }
    s.lastVerb = verb;
    if (UPLOADS.has(verb)) {
      s.uploadName = arg;
      s.awaitingUploadReply = true;
    } else if (OTHER_TRANSFERS.has(verb)) {
      s.uploadName = undefined;
      s.awaitingUploadReply = false;
    }
    s.upstream.write(`${line}\r\n`);
  };

  const rewritePassive = async (s: Session, line: string): Promise<string> => {
    const pasv = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(line);
    if (line.startsWith('227') && pasv) {
      const port = await openDataListener(s, Number(pasv[5]) * 256 + Number(pasv[6]));
      return line.replace(pasv[0], `127,0,0,1,${port >> 8},${port & 255}`);
    }
    const epsv = /\|\|\|(\d+)\|/.exec(line);
    if (line.startsWith('229') && epsv) {
      const port = await openDataListener(s, Number(epsv[1]));
      return line.replace(epsv[0], `|||${port}|`);
    }
    return line;
  };

  const onReply = (s: Session, lines: string[]): void => {
    const code = Number(lines[0]?.slice(0, 3));
    queue(s, async () => {
      if (lines.length === 1 && (code === 227 || code === 229)) lines = [await rewritePassive(s, lines[0] ?? '')];
      if (s.lastVerb === 'FEAT' && lines.length > 1 && rules.hiddenFeatures.size > 0) {
        lines = lines.filter((line, index) => index === 0 || index === lines.length - 1 || !rules.hiddenFeatures.has(line.trim().split(' ')[0]?.toUpperCase() ?? ''));
      }
      if (code >= 200 && s.awaitingUploadReply) {
        s.awaitingUploadReply = false;
        s.uploadName = undefined;
        const swallow = s.swallowUploadReply;
        s.swallowUploadReply = false;
        if (s.closeUpstreamAfterUploadReply) s.upstream.end();
        if (swallow) return;
      }
      if (!s.client.destroyed) s.client.write(lines.map((l) => `${l}\r\n`).join(''));
    });
  };

  const server = net.createServer({ pauseOnConnect: true }, (rawClient) => {
    const client = track(rawClient);
    connections++;
    if (stopped) return void client.destroy();
    if (rules.refuse === connections) {
      client.end('421 Too many connections\r\n', () => client.destroy());
      return;
    }
    const s: Session = {
      client,
      upstream: track(net.connect({ host: upstream.host, port: upstream.port })),
      awaitingUploadReply: false,
      swallowUploadReply: false,
      closeUpstreamAfterUploadReply: false,
      cut: false,
      toClient: Promise.resolve(),
    };
    s.upstream.once('connect', () => client.resume());

    onLines(client, (line) => onCommand(s, line));
    client.on('close', (hadError) => {
      if (s.cut) return;
      if (hadError) s.upstream.destroy();
      else s.upstream.end();
    });

    let multi: { code: string; lines: string[] } | undefined;
    onLines(s.upstream, (line) => {
      if (multi) {
        multi.lines.push(line);
        if (line.startsWith(`${multi.code} `)) {
          onReply(s, multi.lines);
          multi = undefined;
        }
      } else if (/^\d{3}-/.test(line)) {
        multi = { code: line.slice(0, 3), lines: [line] };
      } else {
        onReply(s, [line]);
      }
    });
    s.upstream.on('close', (hadError) => {
      queue(s, () => {
        if (hadError) s.client.destroy();
        else s.client.end();
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    log,
    get connections() {
      return connections;
    },
    setRules(r: FaultRules) {
      rules = compile(r);
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const ds of dataServers) ds.close();
        dataServers.clear();
        for (const sock of sockets) sock.destroy();
        server.close(() => resolve());
      });
      return stopping;
    },
  };
}
