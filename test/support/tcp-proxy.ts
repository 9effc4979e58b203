import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy a test can cut: `cut()` drops every open connection and refuses new ones
 * (a database that restarted and is not back yet), `restore()` lets connections through again. Put
 * it between a node and PostgreSQL to take the database away without touching the shared server.
 */
export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
  /** Cuts and stops listening; the caller registers it after whatever still talks through the proxy. */
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    refusing = true;
    for (const s of open) s.destroy();
  };
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut,
    restore() {
      refusing = false;
    },
    async close() {
      cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
