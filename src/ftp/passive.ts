/**
 * Where data connections go. A server behind NAT often names its private address in the PASV
 * reply (a NAS announcing 192.168.1.20 to a client that reached it as nas.example.net), and
 * some name any other address. vmftp does what curl (default since 7.74) and FileZilla do: the
 * data connection goes to the host the control connection went to, whatever PASV says, and
 * never to another host. basic-ftp's own choice is to refuse such a reply (its
 * `allowSeparateTransferHost` off) or to follow it (on): neither works for these servers.
 */
import { TLSSocket } from 'node:tls';
import { Client, enterPassiveModeIPv6, type FTPContext, type FTPResponse } from 'basic-ftp';
// Not re-exported by basic-ftp's index: the helpers its own PASV strategies are made of.
import { connectForPassiveTransfer, parsePasvResponse } from 'basic-ftp/dist/transfer.js';

/**
 * How a data connection was opened: EPSV (the port only, to the control connection's host), or
 * PASV, with the address its reply named (`announced`) and the one connected to (`used`, the
 * control connection's host; they differ behind NAT).
 */
export type DataConnection =
  | { readonly command: 'EPSV' }
  | { readonly command: 'PASV'; readonly announced: string; readonly used: string };

/** Hears how the data connections of a client are opened. */
export interface DataObserver {
  opened(how: DataConnection): void;
  /** With TLS, once a data connection's handshake is done: whether it resumed the control connection's TLS session. */
  tlsSessionReused(reused: boolean): void;
}

/**
 * Returns a basic-ftp Client whose data connections use EPSV where the server has it, else PASV
 * to the control connection's host, and tell `observer` how they were opened.
 */
export function createClient(timeoutMs: number, observer: DataObserver): Client {
  return new ControlHostClient(timeoutMs, observer);
}

class ControlHostClient extends Client {
  constructor(timeoutMs: number, observer: DataObserver) {
    super(timeoutMs);
    const observed = (open: (ftp: FTPContext) => Promise<{ reply: FTPResponse; how: DataConnection }>) => async (ftp: FTPContext) => {
      const { reply, how } = await open(ftp);
      observer.opened(how);
      const socket = ftp.dataSocket;
      if (socket instanceof TLSSocket) socket.once('secureConnect', () => observer.tlsSessionReused(socket.isSessionReused()));
      return reply;
    };
    // basic-ftp's own first-that-works selection (it keeps the strategy that worked), with our PASV in place of its own.
    this.prepareTransfer = this._enterFirstCompatibleMode([
      observed(async (ftp) => ({ reply: await enterPassiveModeIPv6(ftp), how: { command: 'EPSV' } })),
      observed(passiveToControlHost),
    ]);
  }
}

/** Returns the PASV reply, once the data connection is open to the control connection's host at the port PASV named. */
async function passiveToControlHost(ftp: FTPContext): Promise<{ reply: FTPResponse; how: DataConnection }> {
  const reply = await ftp.request('PASV');
  const { host: announced, port } = parsePasvResponse(reply.message);
  const controlHost = ftp.socket.remoteAddress;
  if (controlHost === undefined) throw new Error('the control connection closed before the data connection could be opened');
  // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
  const used = controlHost.replace(/^::ffff:/i, '');
  await connectForPassiveTransfer(used, port, ftp);
  return { reply, how: { command: 'PASV', announced, used } };
}
