import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import { vpcRef } from '../../lib/constructs/as-interface';
import type { FleetScalingSpec } from './scaling-spec';
import { readFleetScaling, type CfnTemplate } from './template-policy';

/**
 * aws-ecs-patterns' QueueProcessingFargateService with its default scaling (scalingSteps, CPU
 * target, cooldown), synthesized in-process with the same min/max as the fleet it is compared
 * with, so the comparison uses the library's own defaults rather than a copy of them.
 */
export function queueProcessingPatternScaling(minCapacity: number, maxCapacity: number, options: { readonly disableCpuBasedScaling?: boolean } = {}): FleetScalingSpec {
  const app = new App();
  const stack = new Stack(app, 'PatternReference', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = vpcRef(new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 }));
  new ecsPatterns.QueueProcessingFargateService(stack, 'Workers', {
    vpc,
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable'),
    minScalingCapacity: minCapacity,
    maxScalingCapacity: maxCapacity,
    ...(options.disableCpuBasedScaling === true ? { disableCpuBasedScaling: true } : {}),
  });
  const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  return readFleetScaling(template, { source: `aws-ecs-patterns QueueProcessingFargateService (${options.disableCpuBasedScaling === true ? 'steps only' : 'defaults'})` });
}
