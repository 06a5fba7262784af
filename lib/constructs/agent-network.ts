import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { requireProp } from '../errors';
import { vpcRef } from './as-interface';

export interface AgentNetworkProps {
  readonly cidr: string;
  /** Explicit AZ names, so synth needs no account lookup. */
  readonly availabilityZones: readonly string[];
  /**
   * NAT gateways; only the LLM gateway's traffic to the model API uses them.
   * @default 1
   */
  readonly natGateways?: number;
  /** Managed prefix list IDs of the S3 and DynamoDB gateway endpoints in this region. */
  readonly prefixLists: { readonly s3: string; readonly dynamodb: string };
  /** Key for the flow log group. */
  readonly logKey: kms.IKey;
  /** Flow log retention. */
  readonly logRetention: logs.RetentionDays;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The AWS APIs tasks call, reached through interface endpoints (no NAT, no internet). */
const INTERFACE_ENDPOINTS = {
  Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  // The ADOT collector sidecar exports spans to X-Ray.
  XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
} as const;

/**
 * VPC with public subnets (load balancer, NAT) and private subnets (all tasks), gateway endpoints
 * for DynamoDB and S3 (ECR layers), interface endpoints for the other APIs, and flow logs.
 * `allowAwsApis` opens exactly those destinations on a task security group, so a task that is not
 * the LLM gateway has no path to the internet even though the private subnets route to NAT.
 */
export class AgentNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  private readonly prefixLists: AgentNetworkProps['prefixLists'];

  constructor(scope: Construct, id: string, props: AgentNetworkProps) {
    super(scope, id);
    const natGateways = props.natGateways ?? 1;
    requireProp(
      natGateways >= 1 && natGateways <= props.availabilityZones.length,
      'AgentNetwork',
      'natGateways',
      natGateways,
      `use 1 (shared) to ${props.availabilityZones.length} (one per AZ); the LLM gateway needs at least one to reach the model API`,
    );
    this.prefixLists = props.prefixLists;
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      availabilityZones: [...props.availabilityZones],
      natGateways,
      subnetConfiguration: [
        // Only the ALB and the NAT gateways (with Elastic IPs) live here: nothing needs an automatic public IP.
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'tasks', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });
    this.vpc = vpcRef(vpc);
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'Interface endpoints: HTTPS from inside the VPC only',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(this.vpc.vpcCidrBlock), ec2.Port.tcp(443), 'AWS API calls from tasks');
    Validations.of(this.endpointSecurityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The only ingress rule is HTTPS from this VPC\'s own CIDR (a token at synth time, so the rule cannot see it is not 0.0.0.0/0).',
    });
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
      vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      });
    }
  }

  /** Private subnets where every task runs. */
  get taskSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  }

  /** Let a task reach the AWS APIs (interface endpoints, S3 and DynamoDB) and nothing else on 443. */
  allowAwsApis(securityGroup: ec2.ISecurityGroup): void {
    securityGroup.addEgressRule(ec2.Peer.securityGroupId(this.endpointSecurityGroup.securityGroupId), ec2.Port.tcp(443), 'AWS interface endpoints');
    securityGroup.addEgressRule(ec2.Peer.prefixList(this.prefixLists.s3), ec2.Port.tcp(443), 'S3 gateway endpoint (ECR layers)');
    securityGroup.addEgressRule(ec2.Peer.prefixList(this.prefixLists.dynamodb), ec2.Port.tcp(443), 'DynamoDB gateway endpoint');
  }
}
