/**
 * An offline evaluator of CloudFormation intrinsics over one synthesized stage (all its stacks):
 * Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and Fn::ImportValue across the
 * stage's stacks, with the stage's account and region. A physical name CloudFormation generates
 * at deploy time becomes a stable placeholder `{{Stack/LogicalId}}`, the same wherever it is
 * referenced, so a policy's Resource and a task definition's environment resolve to equal strings.
 * What cannot be evaluated throws, naming the expression: nothing is guessed.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, read by path
type Json = any;

export class UnresolvableError extends Error {}

export interface StageTemplates {
  /** Stack key (e.g. `services`) -> template JSON. */
  readonly templates: Readonly<Record<string, Record<string, Json>>>;
  /** Stack key -> stack name (`prod-Data`), the prefix of its exports. */
  readonly stackNames: Readonly<Record<string, string>>;
  readonly account: string;
  readonly region: string;
}

export class CfnResolver {
  private readonly exports = new Map<string, { stack: string; value: Json }>();

  constructor(readonly stage: StageTemplates) {
    for (const [stack, t] of Object.entries(stage.templates)) {
      for (const output of Object.values((t['Outputs'] ?? {}) as Record<string, Json>)) {
        const name = output?.Export?.Name;
        if (typeof name === 'string') this.exports.set(name, { stack, value: output.Value });
      }
    }
  }

  resources(stack: string): Record<string, { Type: string; Properties?: Record<string, Json> }> {
    return (this.stage.templates[stack]?.['Resources'] ?? {}) as Record<string, { Type: string; Properties?: Record<string, Json> }>;
  }

  /** Evaluate `expr` in `stack`; arrays resolve element-wise. */
  resolve(expr: Json, stack: string): string | string[] {
    if (typeof expr === 'string') return expr;
    if (typeof expr === 'number' || typeof expr === 'boolean') return String(expr);
    if (Array.isArray(expr)) return expr.map((e) => this.str(e, stack));
    if (expr === null || typeof expr !== 'object') throw new UnresolvableError(`cannot evaluate ${JSON.stringify(expr)}`);
    const [fn] = Object.keys(expr);
    const arg = expr[fn as string];
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg), stack);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        return this.getAtt(String(id), String(attr), stack);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, Json[]];
        return parts.map((p) => this.resolve(p, stack)).flat().join(sep);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [Json, Json];
        const items = this.resolve(list, stack);
        const picked = (Array.isArray(items) ? items : [items])[Number(this.str(index, stack))];
        if (picked === undefined) throw new UnresolvableError(`Fn::Select out of range in ${stack}: ${JSON.stringify(expr)}`);
        return picked;
      }
      case 'Fn::Split': {
        const [sep, source] = arg as [string, Json];
        return this.str(source, stack).split(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, Json>];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
          if (name in vars) return this.str(vars[name], stack);
          const [id, attr] = name.split('.');
          return attr === undefined ? this.str({ Ref: id }, stack) : this.getAtt(String(id), attr, stack);
        });
      }
      case 'Fn::ImportValue': {
        const name = this.str(arg, stack);
        const found = this.exports.get(name);
        if (found === undefined) throw new UnresolvableError(`no stack of the stage exports ${name} (imported by ${stack})`);
        return this.resolve(found.value, found.stack);
      }
      default:
        throw new UnresolvableError(`cannot evaluate ${fn} in ${stack}: ${JSON.stringify(expr).slice(0, 200)}`);
    }
  }

  str(expr: Json, stack: string): string {
    const v = this.resolve(expr, stack);
    if (Array.isArray(v)) throw new UnresolvableError(`expected one value, got a list, in ${stack}: ${JSON.stringify(expr).slice(0, 200)}`);
    return v;
  }

  private placeholder(stack: string, id: string, attr?: string): string {
    return `{{${this.stage.stackNames[stack] ?? stack}.${id}${attr === undefined ? '' : `.${attr}`}}}`;
  }

  /** A resource's physical name: its name property when the template sets one, else a placeholder. */
  private physicalName(stack: string, id: string, nameProp: string): string {
    const props = this.resources(stack)[id]?.Properties ?? {};
    return props[nameProp] !== undefined ? this.str(props[nameProp], stack) : this.placeholder(stack, id);
  }

  private ref(name: string, stack: string): string {
    const { account, region } = this.stage;
    switch (name) {
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return account;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stage.stackNames[stack] ?? stack;
    }
    const param = (this.stage.templates[stack]?.['Parameters'] ?? {})[name];
    if (param !== undefined) {
      if (param.Default !== undefined) return String(param.Default);
      throw new UnresolvableError(`parameter ${name} of ${stack} has no default`);
    }
    const resource = this.resources(stack)[name];
    if (resource === undefined) throw new UnresolvableError(`${stack} has no resource or parameter ${name}`);
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table':
        return this.physicalName(stack, name, 'TableName');
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${account}/${this.physicalName(stack, name, 'QueueName')}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:${region}:${account}:secret:${this.physicalName(stack, name, 'Name')}`;
      case 'AWS::SSM::Parameter':
        return this.physicalName(stack, name, 'Name');
      case 'AWS::ECS::Cluster':
        return this.physicalName(stack, name, 'ClusterName');
      case 'AWS::Logs::LogGroup':
        return this.physicalName(stack, name, 'LogGroupName');
      default:
        return this.placeholder(stack, name);
    }
  }

  private getAtt(id: string, attr: string, stack: string): string {
    const { account, region } = this.stage;
    const resource = this.resources(stack)[id];
    if (resource === undefined) throw new UnresolvableError(`${stack} has no resource ${id} (Fn::GetAtt ${id}.${attr})`);
    const props = resource.Properties ?? {};
    switch (`${resource.Type}.${attr}`) {
      case 'AWS::DynamoDB::Table.Arn':
        return `arn:aws:dynamodb:${region}:${account}:table/${this.ref(id, stack)}`;
      case 'AWS::SQS::Queue.Arn':
        return `arn:aws:sqs:${region}:${account}:${this.physicalName(stack, id, 'QueueName')}`;
      case 'AWS::SQS::Queue.QueueName':
        return this.physicalName(stack, id, 'QueueName');
      case 'AWS::SQS::Queue.QueueUrl':
        return this.ref(id, stack);
      case 'AWS::KMS::Key.Arn':
        return `arn:aws:kms:${region}:${account}:key/${this.placeholder(stack, id)}`;
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:aws:logs:${region}:${account}:log-group:${this.ref(id, stack)}:*`;
      case 'AWS::ECS::Cluster.Arn':
        return `arn:aws:ecs:${region}:${account}:cluster/${this.ref(id, stack)}`;
      case 'AWS::EC2::VPC.CidrBlock':
        if (props['CidrBlock'] !== undefined) return this.str(props['CidrBlock'], stack);
        break;
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${account}:role/${this.physicalName(stack, id, 'RoleName')}`;
    }
    return this.placeholder(stack, id, attr);
  }
}
