/**
 * One synthesized stage read as the runtime meets it: per service, its task role's statements,
 * its container environment and its network placement (security groups, subnets), every value
 * resolved with the offline CloudFormation evaluator.
 */
import type { RecordedService } from '../../../runtime/src/shared/call-record';
import { STACK_KEYS, type SynthesizedStage } from '../../lib/support/synth-stage';
import { CfnResolver, UnresolvableError } from './cfn-resolver';
import type { ResolvedStatement } from './iam-evaluator';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, read by path
type Json = any;

export const SERVICES_STACK = 'services';

export interface ServiceModel {
  readonly service: RecordedService;
  readonly taskDefinitionId: string;
  readonly roleId: string;
  readonly statements: readonly ResolvedStatement[];
  /** Grants that cannot be read offline (AWS managed policies): reported as unevaluable. */
  readonly opaqueGrants: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly ecsServiceId: string;
  readonly securityGroupIds: readonly string[];
  readonly subnets: readonly string[];
}

export interface StageModel {
  readonly name: string;
  readonly account: string;
  readonly region: string;
  readonly resolver: CfnResolver;
  readonly services: Readonly<Record<RecordedService, ServiceModel>>;
}

const list = <T>(v: T | readonly T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? [...(v as T[])] : [v as T]);

function statementsOf(resolver: CfnResolver, policyId: string, doc: Json, stack: string): ResolvedStatement[] {
  return list<Json>(doc?.Statement).map((s, i) => {
    const id = `${policyId}#${i}`;
    const strings = (key: string): string[] | undefined => (s[key] === undefined ? undefined : list<string>(s[key]).map(String));
    let resources: string[] | undefined;
    let notResources: string[] | undefined;
    let unresolvable: string | undefined;
    try {
      resources = s.Resource === undefined ? undefined : list<Json>(s.Resource).flatMap((r) => list(resolver.resolve(r, stack)));
      notResources = s.NotResource === undefined ? undefined : list<Json>(s.NotResource).flatMap((r) => list(resolver.resolve(r, stack)));
    } catch (err) {
      if (!(err instanceof UnresolvableError)) throw err;
      unresolvable = err.message;
    }
    const condition: Record<string, Record<string, string[]>> = {};
    for (const [op, block] of Object.entries((s.Condition ?? {}) as Record<string, Record<string, Json>>)) {
      condition[op] = Object.fromEntries(Object.entries(block).map(([k, v]) => [k, list<Json>(v).map((x) => resolver.str(x, stack))]));
    }
    const actions = strings('Action');
    const notActions = strings('NotAction');
    return {
      id,
      effect: s.Effect === 'Deny' ? 'Deny' : 'Allow',
      ...(actions !== undefined ? { actions } : {}),
      ...(notActions !== undefined ? { notActions } : {}),
      ...(resources !== undefined ? { resources } : {}),
      ...(notResources !== undefined ? { notResources } : {}),
      ...(Object.keys(condition).length > 0 ? { condition } : {}),
      ...(unresolvable !== undefined ? { unresolvable } : {}),
    };
  });
}

/** Which pool of a service: the stable one, or an agent canary's candidate pool (logical IDs under `Canary`). */
export type ServicePool = 'stable' | 'candidate';

/** A pool's task definition of a service: its container is named after the service. */
function serviceModel(resolver: CfnResolver, service: RecordedService, pool: ServicePool = 'stable'): ServiceModel {
  const stack = SERVICES_STACK;
  const resources = resolver.resources(stack);
  const entries = Object.entries(resources);
  const taskDef = entries.find(
    ([id, r]) => r.Type === 'AWS::ECS::TaskDefinition' && id.startsWith('Canary') === (pool === 'candidate') && list<Json>(r.Properties?.['ContainerDefinitions']).some((c) => c.Name === service),
  );
  if (taskDef === undefined) throw new Error(`no ${pool} task definition with a "${service}" container in the ${stack} stack`);
  const [taskDefinitionId, td] = taskDef;
  const roleRef = td.Properties?.['TaskRoleArn']?.['Fn::GetAtt']?.[0];
  if (typeof roleRef !== 'string') throw new Error(`${taskDefinitionId} has no task role from this stack`);
  const role = resources[roleRef];
  const statements: ResolvedStatement[] = [];
  const opaqueGrants: string[] = [];
  for (const [pid, p] of entries) {
    if (p.Type !== 'AWS::IAM::Policy' && p.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const attached = list<Json>(p.Properties?.['Roles']).some((r) => r?.Ref === roleRef);
    if (attached) statements.push(...statementsOf(resolver, pid, p.Properties?.['PolicyDocument'], stack));
  }
  for (const [i, inline] of list<Json>(role?.Properties?.['Policies']).entries()) statements.push(...statementsOf(resolver, `${roleRef}.Policies[${i}]`, inline.PolicyDocument, stack));
  for (const arn of list<Json>(role?.Properties?.['ManagedPolicyArns'])) opaqueGrants.push(`managed policy ${JSON.stringify(arn)}`);

  const container = list<Json>(td.Properties?.['ContainerDefinitions']).find((c) => c.Name === service);
  const env: Record<string, string> = {};
  for (const { Name, Value } of list<{ Name: string; Value: Json }>(container?.Environment)) {
    try {
      env[Name] = resolver.str(Value, stack);
    } catch (err) {
      if (!(err instanceof UnresolvableError)) throw err;
    }
  }
  const ecs = entries.find(([, r]) => r.Type === 'AWS::ECS::Service' && r.Properties?.['TaskDefinition']?.Ref === taskDefinitionId);
  if (ecs === undefined) throw new Error(`no ECS service runs ${taskDefinitionId}`);
  const vpc = ecs[1].Properties?.['NetworkConfiguration']?.['AwsvpcConfiguration'] ?? {};
  return {
    service,
    taskDefinitionId,
    roleId: roleRef,
    statements,
    opaqueGrants,
    env,
    ecsServiceId: ecs[0],
    securityGroupIds: list<Json>(vpc.SecurityGroups).map((g) => resolver.str(g, stack)),
    subnets: list<Json>(vpc.Subnets).map((s) => resolver.str(s, stack)),
  };
}

/** Build the model; `mutate` edits a deep copy of the templates first (the checkers' own tests). */
export function stageModel(synth: SynthesizedStage, mutate?: (templates: Record<string, Record<string, Json>>) => void, workerPool: ServicePool = 'stable'): StageModel {
  const templates = JSON.parse(JSON.stringify(synth.json)) as Record<string, Record<string, Json>>;
  mutate?.(templates);
  const stackNames = Object.fromEntries(STACK_KEYS.map((k) => [k, synth.stage[k].stackName]));
  const account = String(synth.stage.services.account);
  const region = String(synth.stage.services.region);
  const resolver = new CfnResolver({ templates, stackNames, account, region });
  return {
    name: synth.stage.stageName,
    account,
    region,
    resolver,
    services: { intake: serviceModel(resolver, 'intake'), worker: serviceModel(resolver, 'worker', workerPool), gateway: serviceModel(resolver, 'gateway') },
  };
}
