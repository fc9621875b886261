/**
 * A loopback HTTP server that records every request (method, path, body) and
 * answers with `status` (200 unless set): the monitoring service `notify` pings.
 *
 *   const hc = await startPingServer();
 *   t.after(() => hc.stop());
 *   // notify: { url: `${hc.url}/ping/abc` }
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Ping {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export interface PingServerHandle {
  readonly url: string;
  readonly pings: readonly Ping[];
  /** The status code the next requests get. */
  status: number;
  /** false: the next requests are recorded but never answered (a monitoring service that hangs). */
  answers: boolean;
  stop(): Promise<void>;
}

export async function startPingServer(): Promise<PingServerHandle> {
  const pings: Ping[] = [];
  const handle = { status: 200, answers: true } as { status: number; answers: boolean };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      pings.push({ method: request.method ?? '', path: request.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      if (!handle.answers) return;
      response.writeHead(handle.status, { 'content-type': 'text/plain' });
      response.end('OK');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return Object.assign(handle, {
    url: `http://127.0.0.1:${port}`,
    pings,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  });
}
