import { z } from 'zod';
import { DYNAMODB_ITEM_LIMIT_BYTES, MAX_SUBMITTED_ROW_BYTES, MAX_TASK_BODY_BYTES, OUTCOME_RESERVE_BYTES } from '../shared/task-size';
import { submitTaskSchema } from './task-input';
import { approvalDecisionSchema } from './approvals';
import { errorBodySchema, healthSchema, taskAcceptedSchema, taskViewSchema } from './task-view';

/**
 * The OpenAPI 3.1 document of the intake, generated from the same zod schemas the handler parses
 * requests with and the tests validate responses against. `openapi.json` next to this file is the
 * checked-in copy (`npx tsx runtime/src/intake/write-openapi.ts` rewrites it); a
 * test fails when the two differ.
 */
type JsonSchema = Record<string, unknown>;

const REF = (id: string) => ({ $ref: `#/components/schemas/${id}` });

function components(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const out = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` }).schemas;
  return Object.fromEntries(
    Object.entries(out).map(([id, schema]) => {
      const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
      return [id, rest];
    }),
  );
}

const json = (id: string, description: string) => ({ description, content: { 'application/json': { schema: REF(id) } } });
const error = (description: string) => json('Error', description);
const AUTH_ERRORS = {
  '401': error('Missing or invalid API key'),
  '429': { ...error('Over the key\'s request rate'), headers: { 'retry-after': { schema: { type: 'integer' }, description: 'Seconds to wait' } } },
};
const TASK_ID = { name: 'taskId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' } };

let cached: JsonSchema | undefined;

export function buildOpenApiDocument(): JsonSchema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'OpenClaw intake API',
      version: '1.0.0',
      description:
        'Submit agent tasks, follow them, cancel them. Authenticate with "Authorization: Bearer <api key>". ' +
        'Completion webhooks are POSTed to callbackUrl with "x-openclaw-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of `${t}.${body}` with the key\'s webhook secret>" ' +
        'and "x-openclaw-event: task.finished"; a task that stops at a tool needing a person\'s approval (status WAITING_APPROVAL) sends, signed the same way, ' +
        '"x-openclaw-event: approval_requested" with {event, taskId, status, pendingApproval, decisionUrl, metadata}.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...components({ SubmitTask: submitTaskSchema, ApprovalDecision: approvalDecisionSchema }, 'input'),
        ...components({ TaskAccepted: taskAcceptedSchema, Task: taskViewSchema, Error: errorBodySchema, Health: healthSchema }, 'output'),
      },
    },
    paths: {
      '/v1/tasks': {
        post: {
          operationId: 'submitTask',
          security: [{ bearer: [] }],
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
              description: 'Same key and body within 24 h returns the same task; same key with another body is 422',
            },
          ],
          requestBody: {
            required: true,
            description: `At most ${MAX_TASK_BODY_BYTES} bytes (derived from DynamoDB's item limit: the task row keeps the input once and room for the result)`,
            content: { 'application/json': { schema: REF('SubmitTask') } },
          },
          responses: {
            '202': json('TaskAccepted', 'Accepted: the task is stored and queued'),
            '400': error('Malformed body, schema violation (names the field), a refused callbackUrl, or a budget above the API key\'s ceiling (names the field and the ceiling)'),
            ...AUTH_ERRORS,
            '403': error('Priority above the key\'s entitlement'),
            '409': error('A request with the same Idempotency-Key is still in progress'),
            '413': error(
              `Body larger than ${MAX_TASK_BODY_BYTES} bytes, or a task whose stored form exceeds ${MAX_SUBMITTED_ROW_BYTES} bytes (DynamoDB's ${DYNAMODB_ITEM_LIMIT_BYTES}-byte item limit less ${OUTCOME_RESERVE_BYTES} bytes kept for the result); the message names the limit`,
            ),
            '415': error('Content-Type is not application/json'),
            '422': error('Idempotency-Key reused with a different body'),
            '503': error('The store or the queue is unavailable; retry (never answered to a valid request because of its size)'),
          },
        },
      },
      '/v1/tasks/{taskId}': {
        get: {
          operationId: 'getTask',
          security: [{ bearer: [] }],
          parameters: [TASK_ID],
          responses: { '200': json('Task', 'The task: status, result or error, steps, tokens, timestamps'), ...AUTH_ERRORS, '404': error('No such task for this key') },
        },
        delete: {
          operationId: 'cancelTask',
          security: [{ bearer: [] }],
          parameters: [TASK_ID],
          responses: {
            '202': json('Task', 'Cancelled (was QUEUED or WAITING_APPROVAL) or flagged (RUNNING: the worker stops at its next step)'),
            ...AUTH_ERRORS,
            '404': error('No such task for this key'),
            '409': error('The task already finished'),
          },
        },
      },
      '/v1/tasks/{taskId}/approvals/{approvalId}': {
        post: {
          operationId: 'decideApproval',
          security: [{ bearer: [] }],
          description:
            'Approve or deny the tool call a WAITING_APPROVAL task waits for (its pendingApproval). The decision is recorded on the task (decisions) ' +
            'and the task is queued again: approve runs the tool exactly once, deny gives the model an error tool result with the reason. ' +
            'No decision by pendingApproval.expiresAt counts as a denial (reason "expired"). Needs an API key with the canApprove entitlement.',
          parameters: [TASK_ID, { name: 'approvalId', in: 'path', required: true, schema: { type: 'string', pattern: '^apr_[0-9a-f]{24}$' } }],
          requestBody: { required: true, content: { 'application/json': { schema: REF('ApprovalDecision') } } },
          responses: {
            '200': json('Task', 'Recorded: the task is QUEUED again (pendingApproval gone, the decision last in decisions)'),
            '400': error('Malformed body or schema violation (names the field)'),
            ...AUTH_ERRORS,
            '403': error('The API key may not decide approvals (no canApprove entitlement)'),
            '404': error('No such task for this key, or the task has no such approval'),
            '409': error('Already decided (a decision cannot be changed), or expired (counted as a denial); the message says which'),
            '415': error('Content-Type is not application/json'),
          },
        },
      },
      '/health': { get: { operationId: 'health', responses: { '200': json('Health', 'The process is up') } } },
      '/ready': {
        get: {
          operationId: 'ready',
          responses: { '200': json('Health', 'DynamoDB and SQS answer'), '503': json('Health', 'A dependency does not answer') },
        },
      },
      '/openapi.json': { get: { operationId: 'openapi', responses: { '200': { description: 'This document', content: { 'application/json': {} } } } } },
    },
  };
}

/** The document, built once per process. */
export function openApiDocument(): JsonSchema {
  cached ??= buildOpenApiDocument();
  return cached;
}
