import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { CANARY_SHARE_PATTERN } from '../../runtime/src/shared/agent-version';
import { ENV } from '../../runtime/src/shared/config';
import { SERVICES } from '../../runtime/src/shared/metrics-contract';
import type { CanaryPlan } from '../config/canary';
import { requireProp } from '../errors';
import { AgentWorkerService, type AgentWorkerServiceProps } from './agent-worker-service';
import { grantReadParameter, grantSendTasks } from './grants';
import { TaskQueues } from './task-queues';

export interface AgentCanaryPoolProps {
  readonly stage: string;
  /** The resolved candidate (lib/config/canary.ts resolveCanaryPlan). */
  readonly plan: CanaryPlan;
  /**
   * The stable pool's props: the candidate is built by the same construct with the same scaling
   * rules; only the image, prompts, model, lanes, capacity bounds and names differ.
   */
  readonly stableWorker: AgentWorkerServiceProps;
  /**
   * The stable pool, which sweeps the candidate's DLQ too: after a rollback the candidate scales to
   * zero, and tasks its crashing workers dead-lettered must still end FAILED.
   * @default - only the candidate's own workers sweep it
   */
  readonly stableWorkerService?: AgentWorkerService;
  /** The stable pool's image digest, recorded in the version descriptor. */
  readonly stableDigest: string;
  /** The intake task definition that routes tasks: gets the candidate's lanes, the share parameter and the grants. */
  readonly intakeTaskDefinition: ecs.TaskDefinition;
  /** Key of the candidate's lanes (the stage's data key). */
  readonly dataKey: kms.IKey;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The parameter paths of a stage's canary: the share and the version descriptor. */
export function canaryParameterNames(stage: string): { readonly share: string; readonly versions: string } {
  return { share: `/openclaw/${stage}/canary/share`, versions: `/openclaw/${stage}/canary/versions` };
}

/**
 * The candidate agent version of a stage: its own lanes (high, normal, DLQ; SQS cannot filter a
 * queue by attribute, so separate lanes are how only its workers take its tasks), its own worker
 * pool, the share parameter the intake reads and the rollback sets to 0, and a descriptor naming
 * what each version runs (read by `npm run canary -- status`).
 *
 * The share starts at 0 and CloudFormation never writes it again unless this initial value
 * changes, so a redeploy does not undo a rollback or an operator's `canary start`.
 */
export class AgentCanaryPool extends Construct {
  readonly queues: TaskQueues;
  readonly worker: AgentWorkerService;
  readonly share: ssm.StringParameter;
  readonly versions: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: AgentCanaryPoolProps) {
    super(scope, id);
    const { plan } = props;
    requireProp(plan.minTasks >= 0 && plan.minTasks <= plan.maxTasks, 'AgentCanaryPool', 'plan.minTasks', plan.minTasks, `use 0 to maxTasks (${plan.maxTasks})`);
    const names = canaryParameterNames(props.stage);
    const stable = props.stableWorker;

    this.queues = new TaskQueues(this, 'Lanes', {
      encryptionKey: props.dataKey,
      visibilityTimeout: stable.visibilityTimeout,
      maxReceiveCount: stable.maxReceiveCount,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    const ct = (scope: Construct, rule: string, reason: string) => Validations.of(scope).acknowledge({ id: `cdk-validator-cfnguard::${rule}`, reason });
    ct(this.queues.deadLetter, 'sqs_dlq_check', 'The dead-letter queue of the candidate\'s lanes; a queue behind it would only move the question.');
    ct(this.queues, 'sqs_queue_encrypted_check', 'Encrypted with the stage\'s data key from the Data stack; the rule only recognises a key defined in the same template.');
    this.share = new ssm.StringParameter(this, 'Share', {
      parameterName: names.share,
      stringValue: '0',
      description: 'Percent of new tasks the intake sends to the candidate agent version (npm run canary -- start/abort); the canary rollback sets 0',
      allowedPattern: CANARY_SHARE_PATTERN,
    });
    this.versions = new ssm.StringParameter(this, 'Versions', {
      parameterName: names.versions,
      stringValue: JSON.stringify({
        stable: { digest: props.stableDigest, model: stable.model },
        candidate: { digest: plan.digest, model: plan.model, ...(plan.promptsDir === undefined ? {} : { promptsDir: plan.promptsDir }) },
      }),
      description: 'What the stable and candidate agent versions run (image digest, model, prompts); written by each deploy',
    });

    this.worker = new AgentWorkerService(this, 'Worker', {
      ...stable,
      runtime: { ...stable.runtime, imageDigest: plan.digest },
      queues: { high: this.queues.high, normal: this.queues.normal },
      // Its own DLQ, not the stable lanes' (which the stable pool sweeps); see stableWorkerService.
      deadLetterQueue: this.queues.deadLetter,
      model: plan.model,
      minTasks: plan.minTasks,
      maxTasks: plan.maxTasks,
      version: 'candidate',
      ...(plan.promptsDir === undefined ? {} : { promptsDir: plan.promptsDir }),
    });

    props.stableWorkerService?.sweepDeadLetters(this.queues.deadLetter);
    props.stableWorkerService?.sweepCanaryApprovals({ high: this.queues.high, normal: this.queues.normal });

    // The intake routes: the candidate's lanes and the share, read with a short cache.
    const intake = props.intakeTaskDefinition.findContainer(SERVICES.intake);
    requireProp(intake !== undefined, 'AgentCanaryPool', 'intakeTaskDefinition', props.intakeTaskDefinition.node.path, `pass the intake's task definition (it has no "${SERVICES.intake}" container)`);
    intake?.addEnvironment(ENV.canaryQueueUrlHigh, this.queues.high.queueUrl);
    intake?.addEnvironment(ENV.canaryQueueUrlNormal, this.queues.normal.queueUrl);
    intake?.addEnvironment(ENV.canaryShareParam, this.share.parameterName);
    intake?.addEnvironment(ENV.canaryShareCacheMs, String(SHARE_CACHE.toMilliseconds()));
    grantSendTasks(props.intakeTaskDefinition.taskRole, [this.queues.high, this.queues.normal], props.dataKey);
    grantReadParameter(props.intakeTaskDefinition.taskRole, this.share);
  }
}

/** How long an intake replica reuses the share it read: a rollback takes effect within this. */
export const SHARE_CACHE = Duration.seconds(15);
