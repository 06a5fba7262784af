/**
 * The template and the runtime agree on IAM and on the network, checked from what the services
 * really did: a representative workload runs the bundled intake, worker and gateway with call
 * recording on (test/contracts/support/recorded-workload.ts), and every recorded AWS call and
 * outbound connection is resolved against the synthesized prod and staging templates.
 *
 * IAM, both ways: each call (and the KMS use it implies) must be allowed by the task role of the
 * service that made it; each granted action must be used, unless test/contracts/unused-grants.ts
 * says why not. Network: each connection must be allowed by the service's security-group egress,
 * the VPC endpoints, Service Connect or the NAT route. An agent canary's candidate worker pool has
 * a role and security group of its own: the worker's calls and connections are checked against
 * those too, bound through the candidate task definition's environment. The checkers are shown to fail on
 * deliberately broken templates. The used-vs-granted and connection tables are printed and written
 * to test-output/contracts/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadStageConfig, readSiteConfig, type DeployStage } from '../../lib/config';
import { synthStage, TEST_CONFIG_DIR, type SynthesizedStage } from '../lib/support/synth-stage';
import { CallBinding } from './support/call-binding';
import { checkEgress } from './support/egress-check';
import { checkIam, requestsOf, type IamReport } from './support/iam-check';
import { runRecordedWorkload, type RecordedRun } from './support/recorded-workload';
import { stageModel, type StageModel } from './support/stage-model';
import { CANDIDATE_UNUSED_GRANT_ALLOWLIST, UNUSED_GRANT_ALLOWLIST } from './unused-grants';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, edited by path
type Json = any;

const OUTPUT = join(__dirname, '..', '..', 'test-output', 'contracts');
const STAGES: readonly DeployStage[] = ['prod', 'staging'];
const synths = new Map<DeployStage, SynthesizedStage>();
let run: RecordedRun;

beforeAll(async () => {
  // Synthesis blocks the event loop; it runs before the services and their stand-ins start.
  let t = Date.now();
  for (const s of STAGES) synths.set(s, synthStage(s));
  const synthMs = Date.now() - t;
  t = Date.now();
  run = await runRecordedWorkload();
  process.stdout.write(`iam-network: synth ${synthMs} ms, recorded workload ${Date.now() - t} ms\n`);
}, 420_000);

function synthOf(stage: DeployStage): SynthesizedStage {
  const s = synths.get(stage);
  if (s === undefined) throw new Error(`${stage} was not synthesized`);
  return s;
}

function iamReport(model: StageModel): IamReport {
  return checkIam(model, requestsOf(run.records, new CallBinding(model, run.env), model), UNUSED_GRANT_ALLOWLIST);
}

/**
 * The worker's recorded calls against a model whose worker is the canary's candidate pool: the
 * candidate runs the same image and code, so it makes the same calls on its own lanes, which the
 * binding finds through the candidate task definition's own environment.
 */
function candidateReport(model: StageModel): IamReport {
  const workerCalls = run.records.filter((r) => r.service === 'worker');
  return checkIam(model, requestsOf(workerCalls, new CallBinding(model, run.env), model), CANDIDATE_UNUSED_GRANT_ALLOWLIST);
}

/** The gateway endpoints' prefix lists come from the same stage configuration the synth used. */
const prefixListsOf = (stage: DeployStage) => loadStageConfig(stage, readSiteConfig(TEST_CONFIG_DIR, stage)).network.prefixLists;
const egressOf = (stage: DeployStage, model: StageModel) => checkEgress(model, run.records, run.standIns, prefixListsOf(stage));

function publish(name: string, text: string): void {
  mkdirSync(OUTPUT, { recursive: true });
  writeFileSync(join(OUTPUT, name), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

describe('the recorded workload', () => {
  test('GIVEN the bundled services with recording on WHEN the workload runs THEN every path it stands for ran and every service recorded calls', () => {
    expect(run.outcomes).toEqual({
      ready: '200',
      replayed: 'true',
      cancel: '202',
      tools: 'SUCCEEDED',
      high: 'SUCCEEDED',
      weather: 'SUCCEEDED',
      cancelled: expect.stringMatching(/^(CANCELLED|SUCCEEDED)$/),
      deadLettered: 'FAILED',
    });
    expect(run.webhooks).toBeGreaterThan(0);
    for (const service of ['intake', 'worker', 'gateway'] as const) {
      expect(run.records.filter((r) => r.service === service && r.kind === 'aws').length).toBeGreaterThan(0);
      expect(run.records.filter((r) => r.service === service && r.kind === 'connection').length).toBeGreaterThan(0);
    }
  });
});

describe.each(STAGES)('%s template vs the recorded calls', (stage) => {
  test('GIVEN each service\'s task role WHEN every recorded call is evaluated THEN none is denied or undecidable', () => {
    const report = iamReport(stageModel(synthOf(stage)));
    publish(`iam-${stage}.txt`, `IAM used vs granted, ${stage}\n\n${report.table}`);
    expect(report.denied).toEqual([]);
    expect(report.unevaluable).toEqual([]);
  });

  test('GIVEN each service\'s task role WHEN its grants are matched to the calls THEN every granted action was used or is allowlisted with a reason, and no allowlist entry is stale', () => {
    const report = iamReport(stageModel(synthOf(stage)));
    expect(report.unused.map((g) => `${g.service}: ${g.action} on ${g.resource} (${g.statement}) is granted but no recorded call used it; narrow the grant or add it to test/contracts/unused-grants.ts with the reason`)).toEqual([]);
    expect(report.staleAllowances.map((a) => `${a.service} ${a.action}: allowlisted but used, or no longer granted; remove it from test/contracts/unused-grants.ts`)).toEqual([]);
  });

  test('GIVEN the intake\'s own sends and row writes as a busy intake group-commits them (SendMessageBatch, TransactWriteItems) WHEN evaluated THEN its role allows them', () => {
    // The workload submits one task at a time, so its intake writes singly; under load the same
    // writes go out batched. Each recorded single write is replayed in its batched form.
    const batched = run.records.flatMap((r): (typeof run.records)[number][] => {
      if (r.kind !== 'aws' || r.service !== 'intake') return [];
      if (r.awsService === 'sqs' && r.action === 'SendMessage') return [{ ...r, action: 'SendMessageBatch' }];
      if (r.awsService === 'dynamodb' && r.action === 'PutItem') return [{ ...r, action: 'TransactWriteItems', resources: r.resources.map((res) => ({ ...res, operation: 'Put' })) }];
      return [];
    });
    expect(batched.map((r) => (r.kind === 'aws' ? `${r.awsService}:${r.action}` : '')).sort()).toEqual(expect.arrayContaining(['dynamodb:TransactWriteItems', 'sqs:SendMessageBatch']));
    const model = stageModel(synthOf(stage));
    const report = checkIam(model, requestsOf(batched, new CallBinding(model, run.env), model), UNUSED_GRANT_ALLOWLIST);
    expect(report.denied).toEqual([]);
    expect(report.unevaluable).toEqual([]);
  });

  test('GIVEN the agent canary\'s candidate worker pool WHEN every call the worker recorded is evaluated against the candidate\'s own role, bound through its own task definition THEN none is denied, and each of its grants is used or allowlisted', () => {
    const report = candidateReport(stageModel(synthOf(stage), undefined, 'candidate'));
    publish(`iam-${stage}-candidate.txt`, `IAM used vs granted, ${stage}, the agent canary's candidate worker pool\n\n${report.table.slice(report.table.indexOf('worker —'), report.table.indexOf('gateway —')).trimEnd()}`);
    expect(report.denied).toEqual([]);
    expect(report.unevaluable).toEqual([]);
    expect(report.unused.filter((g) => g.service === 'worker').map((g) => `${g.action} on ${g.resource} is granted to the candidate pool but no recorded call used it`)).toEqual([]);
    expect(report.staleAllowances.filter((a) => a.service === 'worker').map((a) => `${a.action}: allowlisted for the candidate but used, or no longer granted`)).toEqual([]);
  });

  test('GIVEN the agent canary\'s candidate worker pool WHEN every connection the worker made is checked against the candidate\'s own security groups THEN each is allowed', () => {
    const model = stageModel(synthOf(stage), undefined, 'candidate');
    expect(model.services.worker.securityGroupIds).not.toEqual(stageModel(synthOf(stage)).services.worker.securityGroupIds);
    expect(egressOf(stage, model).violations.filter((v) => v.startsWith('worker '))).toEqual([]);
  });

  test('GIVEN each service\'s security groups, the VPC endpoints and routes WHEN every recorded connection is checked THEN each is allowed', () => {
    const report = egressOf(stage, stageModel(synthOf(stage)));
    publish(`egress-${stage}.txt`, `Outbound connections vs the ${stage} network\n\n${report.table}`);
    expect(report.violations).toEqual([]);
  });
});

describe('the checkers fail on a broken template (prod)', () => {
  const resourcesOf = (t: Record<string, Json>, stack: string): Record<string, Json> => t[stack]['Resources'];

  test('GIVEN the worker role without its lane-consuming statement WHEN checked THEN the IAM check names the service, action, resource and role', () => {
    const model = stageModel(synthOf('prod'), (t) => {
      for (const r of Object.values(resourcesOf(t, 'services'))) {
        if (r.Type !== 'AWS::IAM::Policy' || !JSON.stringify(r.Properties.Roles).includes('WorkerTaskTaskDefinitionTaskRole')) continue;
        r.Properties.PolicyDocument.Statement = r.Properties.PolicyDocument.Statement.filter((s: Json) => !JSON.stringify(s.Action).includes('sqs:DeleteMessage'));
      }
    });
    const report = iamReport(model);
    expect(report.denied.join('\n')).toMatch(/^worker: sqs:DeleteMessage on arn:aws:sqs:us-east-1:\d{12}:\{\{prod-Data\.QueuesNormal[0-9A-F]+\}\} \(from sqs:DeleteMessage, \d+x\) by role WorkerTaskTaskDefinitionTaskRole[0-9A-F]+ in prod: DENIED/m);
  });

  test('GIVEN the candidate pool\'s role without its lane-consuming statement WHEN checked THEN the IAM check names the candidate\'s lane and role', () => {
    const model = stageModel(
      synthOf('prod'),
      (t) => {
        for (const r of Object.values(resourcesOf(t, 'services'))) {
          if (r.Type !== 'AWS::IAM::Policy' || !JSON.stringify(r.Properties.Roles).includes('CanaryWorkerTaskTaskDefinitionTaskRole')) continue;
          r.Properties.PolicyDocument.Statement = r.Properties.PolicyDocument.Statement.filter((s: Json) => !JSON.stringify(s.Action).includes('sqs:DeleteMessage'));
        }
      },
      'candidate',
    );
    expect(candidateReport(model).denied.join('\n')).toMatch(/^worker: sqs:DeleteMessage on arn:aws:sqs:us-east-1:\d{12}:\{\{prod-Services\.CanaryLanesNormal[0-9A-F]+\}\} \(from sqs:DeleteMessage, \d+x\) by role CanaryWorkerTaskTaskDefinitionTaskRole[0-9A-F]+ in prod: DENIED/m);
    // The stable pool's role is untouched.
    expect(iamReport(stageModel(synthOf('prod'))).denied).toEqual([]);
  });

  test('GIVEN a grant no call uses WHEN checked THEN the unused-grant check names it', () => {
    const model = stageModel(synthOf('prod'), (t) => {
      const policy = Object.values(resourcesOf(t, 'services')).find((r: Json) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes('GatewayTaskTaskDefinitionTaskRole')) as Json;
      policy.Properties.PolicyDocument.Statement.push({ Effect: 'Allow', Action: 'dynamodb:Scan', Resource: '*' });
    });
    expect(iamReport(model).unused.map((g) => `${g.service} ${g.action}`)).toEqual(['gateway dynamodb:Scan']);
  });

  test('GIVEN the network without the DynamoDB gateway endpoint WHEN checked THEN the intake, which has no way to the internet, fails with the reason', () => {
    const model = stageModel(synthOf('prod'), (t) => {
      const res = resourcesOf(t, 'network');
      for (const [id, r] of Object.entries(res)) if (r.Type === 'AWS::EC2::VPCEndpoint' && JSON.stringify(r.Properties.ServiceName).includes('.dynamodb')) delete res[id];
    });
    const violations = egressOf('prod', model).violations.join('\n');
    expect(violations).toMatch(/^intake \(security group .*\) connected to dynamodb without a VPC endpoint for it on port 443, but no egress rule opens port 443 to the internet$/m);
    // The worker and gateway still get there: their webhook/model rules open 443 to the internet, through the NAT.
    expect(violations).not.toMatch(/^(worker|gateway) /m);
  });

  test('GIVEN the worker group without its egress rule to the gateway WHEN checked THEN the gateway connection fails', () => {
    const model = stageModel(synthOf('prod'), (t) => {
      const res = resourcesOf(t, 'services');
      for (const [id, r] of Object.entries(res)) if (r.Type === 'AWS::EC2::SecurityGroupEgress' && id.startsWith('WorkerTaskSgto') && id.includes('GatewayTaskSg')) delete res[id];
    });
    expect(egressOf('prod', model).violations).toEqual([expect.stringMatching(/^worker \(security group .*\) connected to the gateway, but no egress rule opens port 8090 to the gateway's security group$/)]);
  });
});
