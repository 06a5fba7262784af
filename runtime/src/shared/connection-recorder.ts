import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { CallRecordSink, RecordedService } from './call-record';

const CHANNEL = 'net.client.socket';

/**
 * Record every outbound TCP connection the process opens, whatever client opened it (the AWS
 * SDK, fetch/undici, node:http, the MCP client): Node announces each client socket on the
 * `net.client.socket` diagnostics channel. Each destination is recorded once. Nothing subscribes
 * unless recording is on, and an unsubscribed channel costs nothing. Returns the stop function.
 */
export function recordConnections(service: RecordedService, sink: CallRecordSink): () => void {
  const seen = new Set<string>();
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket?: Socket }).socket;
    socket?.once('connect', () => {
      const address = socket.remoteAddress;
      const port = socket.remotePort;
      if (address === undefined || port === undefined) return;
      const key = `${address}:${port}`;
      if (seen.has(key)) return;
      seen.add(key);
      sink({ kind: 'connection', service, address, port });
    });
  };
  subscribe(CHANNEL, onSocket);
  return () => unsubscribe(CHANNEL, onSocket);
}
