import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { isIP } from 'node:net';
import type { McpServerConfig } from '../../runtime/src/shared/mcp-servers';

export interface EgressRule {
  readonly peer: ec2.IPeer;
  readonly port: number;
  readonly description: string;
}

/**
 * The egress one MCP server needs: its URL's port, to its address when the URL names one. A
 * security group cannot name a host, so a hostname opens the port to any address (IPv4 and IPv6);
 * the worker still connects only to the configured URL.
 */
export function mcpEgressRules(server: McpServerConfig): EgressRule[] {
  const url = new URL(server.url);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const description = `MCP server ${server.name} (${url.host})`;
  if (isIP(host) === 4) return [{ peer: ec2.Peer.ipv4(`${host}/32`), port, description }];
  if (isIP(host) === 6) return [{ peer: ec2.Peer.ipv6(`${host}/128`), port, description }];
  return [
    { peer: ec2.Peer.anyIpv4(), port, description },
    { peer: ec2.Peer.anyIpv6(), port, description },
  ];
}
