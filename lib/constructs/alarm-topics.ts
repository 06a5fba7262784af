import { RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { EncryptionKey } from './encryption-key';

/** How urgent an alarm is: a page wakes someone, a ticket waits for working hours. */
export type Severity = 'page' | 'ticket';

export interface AlarmTopicsProps {
  /** Alias prefix for the topics' key, e.g. `openclaw/prod`. */
  readonly aliasPrefix: string;
  /**
   * Where page-severity alarms go (staging routes pages to tickets; dev records only).
   * @default 'page'
   */
  readonly pageRoute?: Severity | 'none';
  /**
   * Where ticket-severity alarms go.
   * @default 'ticket'
   */
  readonly ticketRoute?: 'ticket' | 'none';
  /**
   * @default - none
   */
  readonly pageEmails?: readonly string[];
  /**
   * @default - none
   */
  readonly ticketEmails?: readonly string[];
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The page and ticket SNS topics of a stage (KMS-encrypted, TLS only), and the routing of alarm
 * severities to them, which is where stages differ: prod pages, staging files tickets, dev only
 * records state.
 */
export class AlarmTopics extends Construct {
  readonly page: sns.Topic;
  readonly ticket: sns.Topic;
  private readonly routes: Readonly<Record<Severity, sns.ITopic | undefined>>;

  constructor(scope: Construct, id: string, props: AlarmTopicsProps) {
    super(scope, id);
    const key = new EncryptionKey(this, 'Key', {
      purpose: 'alarms',
      aliasPrefix: props.aliasPrefix,
      publisherServices: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    }).key;
    const topic = (name: string, emails: readonly string[]): sns.Topic => {
      const t = new sns.Topic(this, name, { masterKey: key, enforceSSL: true, displayName: `OpenClaw ${name.toLowerCase()}` });
      for (const email of emails) t.addSubscription(new subscriptions.EmailSubscription(email));
      return t;
    };
    this.page = topic('Page', props.pageEmails ?? []);
    this.ticket = topic('Ticket', props.ticketEmails ?? []);
    const byName = { page: this.page, ticket: this.ticket, none: undefined };
    this.routes = { page: byName[props.pageRoute ?? 'page'], ticket: byName[props.ticketRoute ?? 'ticket'] };
  }

  /** The topic a severity is routed to in this stage, if any. */
  topicFor(severity: Severity): sns.ITopic | undefined {
    return this.routes[severity];
  }

  /** Topic ARNs for alarms built from L1 resources. */
  actionArns(severity: Severity): string[] {
    const topic = this.routes[severity];
    return topic === undefined ? [] : [topic.topicArn];
  }

  /** Send the alarm's ALARM and OK transitions to the severity's topic. */
  route(alarm: cloudwatch.AlarmBase, severity: Severity): void {
    const topic = this.routes[severity];
    if (topic === undefined) return;
    alarm.addAlarmAction(new cwActions.SnsAction(topic));
    alarm.addOkAction(new cwActions.SnsAction(topic));
  }
}
