import { Validations, type IPolicyValidationContext, type IPolicyValidationPlugin, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type { IConstruct } from 'constructs';
import type { StageConfig } from './config';
import { RollbackAlarm } from './constructs/rollback-alarm';
import { TaskOomMonitor } from './constructs/task-oom-monitor';
import type { OpenClawStage } from './openclaw-stage';

/** The plugin's name, which prefixes its rule IDs in acknowledgements. */
const PLUGIN = 'cdk-validator-cfnguard';

/** Log retention the Control Tower rule asks for (CT.CLOUDWATCH.PR.2). */
const CONTROL_TOWER_LOG_RETENTION_DAYS = 365;

/**
 * The AWS Control Tower proactive controls (cfn-guard), run on every stack at synth like cdk-nag.
 *
 * cfn-guard's findings carry no severity, which the report shows as "error". But once any finding
 * of a plugin is acknowledged, aws-cdk-lib (2.276) recomputes the plugin's success from the raw
 * severities, finds no "error", and lets the remaining findings pass. Stating the severity keeps
 * an unacknowledged finding fatal (test/contracts/control-tower.test.ts proves it).
 */
export function controlTowerValidator(): IPolicyValidationPlugin {
  // The report lists every rule with each finding; the default 1 MB buffer is too small for five stacks.
  const guard = new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 });
  return {
    name: guard.name,
    ...(guard.version === undefined ? {} : { version: guard.version }),
    ...(guard.ruleIds === undefined ? {} : { ruleIds: guard.ruleIds }),
    validate: (context: IPolicyValidationContext): PolicyValidationPluginReport => {
      const report = guard.validate(context);
      return { ...report, violations: report.violations.map((v) => ({ ...v, severity: v.severity ?? 'error' })) };
    },
  };
}

function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${PLUGIN}::${rule}`, reason });
}

function* walk(scope: IConstruct): Generator<IConstruct> {
  yield scope;
  for (const child of scope.node.children) yield* walk(child);
}

/**
 * Every Control Tower finding we accept, with the reason, next to the resource it is about (like
 * cdk-nag's). Fixed findings are not here: KMS grants limited to AWS services (encryption-key.ts),
 * memory limits on every container (agent-task-definition.ts, otel-collector-sidecar.ts), no
 * automatic public IPs (agent-network.ts), ALB deletion protection and stack termination
 * protection where the stage protects its data (intake-service.ts, openclaw-stage.ts).
 */
export function acknowledgeControlTowerFindings(stage: OpenClawStage, config: StageConfig): void {
  acknowledge(
    stage.data.queues.deadLetter,
    'sqs_dlq_check',
    'This is the dead-letter queue of both lanes; a queue behind it would only move the question. Its messages are swept to FAILED and alarmed on.',
  );

  if (config.logs.retentionDays < CONTROL_TOWER_LOG_RETENTION_DAYS) {
    acknowledge(
      stage,
      'cloudwatch_log_group_retention_period_check',
      `Stage ${config.stage} keeps logs ${config.logs.retentionDays} days (lib/config/stages.ts logs.retentionDays): its logs are for debugging, and the data they describe is deleted sooner (task retention). Prod keeps them ${CONTROL_TOWER_LOG_RETENTION_DAYS} days or more.`,
    );
  }

  const restrictDefaultSg = stage.network.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
  if (restrictDefaultSg !== undefined) {
    acknowledge(
      restrictDefaultSg,
      'lambda_inside_vpc_check',
      'CDK\'s provider for @aws-cdk/aws-ec2:restrictDefaultSecurityGroup runs only during deployment and calls only EC2 APIs to empty the default security group; inside the VPC it would need an EC2 interface endpoint for that alone.',
    );
  }

  for (const construct of walk(stage.services)) {
    if (construct instanceof logs.LogGroup && (construct.node.defaultChild as logs.CfnLogGroup).kmsKeyId !== undefined) {
      acknowledge(
        construct,
        'cloudwatch_log_group_encrypted_check',
        'Encrypted with the stage\'s log key from the Network stack; the rule only recognises a key defined in the same template, not a cross-stack import.',
      );
    }
    if (construct instanceof RollbackAlarm) {
      acknowledge(
        construct,
        'cloudwatch_alarm_action_check',
        'A deployment alarm: ECS reads it to roll a release back (deploymentAlarms); the operational alarms in the Observability stack notify people.',
      );
    }
  }
  for (const construct of walk(stage.observability)) {
    if (construct instanceof TaskOomMonitor) {
      acknowledge(
        construct.alarm,
        'cloudwatch_alarm_action_check',
        'Each OOM kill already reaches the ticket topic through the EventBridge rule with the task and container named; an alarm action would send the same event twice.',
      );
    }
  }
  if (config.alarms.pageRoute === 'none' || config.alarms.ticketRoute === 'none') {
    acknowledge(
      stage.observability.alarms,
      'cloudwatch_alarm_action_check',
      `Stage ${config.stage} routes some severities nowhere (lib/config/stages.ts alarms.pageRoute=${config.alarms.pageRoute}, ticketRoute=${config.alarms.ticketRoute}): those alarms record state on the dashboard only.`,
    );
  }

  const intake = stage.services.intake;
  if (config.ingress.certificateArn === undefined) {
    acknowledge(
      intake.loadBalancer,
      'alb_http_to_https_redirection_check',
      `Stage ${config.stage} has no certificate (ingress.certificateArn): its listener is plain HTTP and open only to ingress.allowedCidr=${config.ingress.allowedCidr}, which IntakeService requires to be restricted.`,
    );
  }
  if (!config.data.deletionProtection) {
    acknowledge(
      intake.loadBalancer,
      'elbv2_deletion_protection_enabled_check',
      `Stage ${config.stage} is torn down and redeployed (data.deletionProtection=false); prod turns deletion protection on.`,
    );
  }
  const accessLogs: ReadonlyArray<[string, string]> = [
    ['s3_bucket_default_encryption_kms_check', 'ALB access log delivery writes only to buckets encrypted with SSE-S3, not SSE-KMS.'],
    ['s3_bucket_versioning_enabled_check', 'Only the ELB service writes here, each object once under a unique name, and the lifecycle rule expires them; versions would add nothing to restore.'],
    ['s3_bucket_logging_enabled_check', 'This bucket is itself an access log; logging access to it would need another log bucket with the same question.'],
    ['s3_event_notifications_enabled_check', 'Nothing reacts to new access logs; they are read when investigating.'],
    ['s3_bucket_object_lock_enabled_check', 'Access logs are expired by the lifecycle rule and the bucket is removed with non-prod stages; object lock would prevent both.'],
  ];
  for (const [rule, reason] of accessLogs) acknowledge(intake.accessLogs, rule, reason);
}
