import type { AlarmActionStrategyProps, IAlarmActionStrategy } from 'cdk-monitoring-constructs';
import type { AlarmTopics, Severity } from './alarm-topics';

/**
 * cdk-monitoring-constructs' action strategy for our routing: an alarm created by a monitoring
 * segment goes to the page or ticket topic of its severity, exactly like the agent alarms
 * (AlarmTopics decides per stage where each severity ends up).
 */
export class SeverityAction implements IAlarmActionStrategy {
  constructor(
    private readonly topics: AlarmTopics,
    /** The severity every alarm using this strategy is routed as. */
    readonly severity: Severity,
  ) {}

  addAlarmActions(props: AlarmActionStrategyProps): void {
    this.topics.route(props.alarm, this.severity);
  }
}
