import { connect, createServer, type Socket } from 'node:net';

export interface FreezableProxy {
  /** The upstream URL with the proxy's host and port in its place. */
  url: string;
  /**
   * From now on nothing passes either way, and the connections stay open: a network that
   * went silent. A query sent meanwhile waits for an answer that never comes.
   */
  freeze(): void;
  /**
   * Freezes as the first message containing `text` goes out (that message held back too): a
   * network going silent under one particular statement, wherever the work has got to.
   */
  freezeOn(text: string): void;
  /** Bytes the proxy held back since it froze: > 0 once someone is waiting on it. */
  heldBack(): number;
  close(): Promise<void>;
}

/** A TCP proxy in front of `upstreamUrl` (a postgres:// URL) that can be frozen. */
export async function startFreezableProxy(upstreamUrl: string): Promise<FreezableProxy> {
  const upstreamAddress = new URL(upstreamUrl);
  let frozen = false;
  let heldBack = 0;
  let trigger: string | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(upstreamAddress.port || 5432), upstreamAddress.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      if (trigger !== undefined && chunk.includes(trigger)) frozen = true;
      if (frozen) heldBack += chunk.length;
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!frozen) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(upstreamUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    freeze() {
      frozen = true;
    },
    freezeOn(text) {
      trigger = text;
    },
    heldBack: () => heldBack,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
