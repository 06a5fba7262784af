/**
 * Secrets Manager and SSM have no emulator. The recorded workload runs the real services, whose
 * SDK clients must really send (the call recorder sits in the SDK's middleware), so each gets a
 * loopback stand-in speaking the service's JSON protocol for the one read the runtime makes:
 * `secretsmanager.GetSecretValue` and `AmazonSSM.GetParameter`. Unknown names answer the
 * service's own not-found error.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AwsJsonStandIn {
  /** The endpoint for AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM. */
  readonly endpoint: string;
  readonly port: number;
  /** Values by secret ID (ARN) or parameter name; change them while the services run. */
  readonly values: Map<string, string>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}

export async function startAwsJsonStandIn(kind: 'secretsmanager' | 'ssm'): Promise<AwsJsonStandIn> {
  const values = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    void body(req).then((input) => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      if (kind === 'secretsmanager' && target === 'secretsmanager.GetSecretValue') {
        const id = String(input['SecretId']);
        const value = values.get(id);
        if (value === undefined) return send(400, { __type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret ${id}` });
        return send(200, { ARN: id, Name: id.split(':').pop(), SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'] });
      }
      if (kind === 'ssm' && target === 'AmazonSSM.GetParameter') {
        const name = String(input['Name']);
        const value = values.get(name);
        if (value === undefined) return send(400, { __type: 'ParameterNotFound', message: `Parameter ${name} not found` });
        return send(200, { Parameter: { Name: name, Value: value, Type: 'String', Version: 1 } });
      }
      return send(400, { __type: 'UnknownOperationException', message: `${kind} stand-in does not implement ${target}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    values,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
