import { parseTaskMessage, traceCarrierOf, traceMessageAttributes } from '../../../runtime/src/shared/task-message';

const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('trace context in task message attributes', () => {
  it('GIVEN a traceparent and tracestate WHEN written as attributes and read back THEN both survive', () => {
    const attributes = traceMessageAttributes({ traceparent: tp, tracestate: 'vendor=x' });
    expect(attributes).toEqual({ traceparent: { DataType: 'String', StringValue: tp }, tracestate: { DataType: 'String', StringValue: 'vendor=x' } });
    expect(traceCarrierOf(attributes, { taskId: 't' })).toEqual({ traceparent: tp, tracestate: 'vendor=x' });
  });

  it('GIVEN no trace context WHEN written THEN no attributes are sent (SQS rejects empty values)', () => {
    expect(traceMessageAttributes({})).toEqual({});
    expect(traceMessageAttributes({ traceparent: '' })).toEqual({});
  });

  it('GIVEN a message from an older intake with traceparent in its body WHEN read THEN the body value is used', () => {
    expect(traceCarrierOf(undefined, { taskId: 't', traceparent: tp })).toEqual({ traceparent: tp });
  });

  it('GIVEN both WHEN read THEN the attribute wins; an attribute of another data type is ignored', () => {
    const other = '00-11111111111111111111111111111111-2222222222222222-01';
    expect(traceCarrierOf({ traceparent: { DataType: 'String', StringValue: other } }, { taskId: 't', traceparent: tp })).toEqual({ traceparent: other });
    expect(traceCarrierOf({ traceparent: { DataType: 'Binary' } }, { taskId: 't' })).toEqual({});
  });
});

describe('task message bodies', () => {
  it('GIVEN a body naming a task WHEN parsed THEN its ID, and an older intake\'s traceparent when it has one', () => {
    expect(parseTaskMessage('{"taskId":"t-1"}')).toEqual({ taskId: 't-1' });
    expect(parseTaskMessage(JSON.stringify({ taskId: 't-1', traceparent: tp, extra: 1 }))).toEqual({ taskId: 't-1', traceparent: tp });
  });

  it('GIVEN a traceparent that is not a string WHEN parsed THEN the task is kept and the traceparent dropped', () => {
    expect(parseTaskMessage('{"taskId":"t","traceparent":7}')).toEqual({ taskId: 't' });
  });

  it.each([undefined, '', 'not json', 'null', '"t-1"', '[]', '{}', '{"taskId":""}', '{"taskId":42}'])('GIVEN the body %p WHEN parsed THEN it is malformed', (body) => {
    expect(parseTaskMessage(body)).toBeUndefined();
  });
});
