import { jsonlCallSink, type CallRecordSink, type RecordedService } from './call-record';
import { recordConnections } from './connection-recorder';

export interface CallRecording {
  /** Where the AWS clients send their call records (createAwsClients' `sink`). */
  readonly sink: CallRecordSink;
  stop(): void;
}

/**
 * Recording of a service's AWS calls and outbound connections, for the contract tests that check
 * them against the synthesized task role and security groups. Off unless CALL_RECORD_FILE is set
 * (no task definition sets it); call first thing in main, so every connection is seen.
 */
export function startCallRecording(service: RecordedService, file: string | undefined): CallRecording | undefined {
  if (file === undefined) return undefined;
  const sink = jsonlCallSink(file);
  const stop = recordConnections(service, sink);
  return { sink, stop };
}
