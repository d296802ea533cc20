// Wire tests: `causeway mcp` driven over stdio by the official MCP TypeScript SDK (legacy
// 2025-11-25 session) and by a raw client (2025-06-18 and the stateless 2026-07-28 revision);
// every message the server sends is validated against the official MCP JSON schema of the
// revision in use.
import { test } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  BIN, MODERN_META, RawClient, TOOL_CALLS, makeFixture, outputValidator, schemaValidator,
  verifyAudit,
} from './wire_support.mjs';

// What a result of each method must match, per revision.
const LEGACY_RESULT = {
  initialize: 'InitializeResult',
  ping: 'EmptyResult',
  'logging/setLevel': 'EmptyResult',
  'tools/list': 'ListToolsResult',
  'tools/call': 'CallToolResult',
  'resources/list': 'ListResourcesResult',
  'resources/templates/list': 'ListResourceTemplatesResult',
  'resources/read': 'ReadResourceResult',
  'prompts/list': 'ListPromptsResult',
  'prompts/get': 'GetPromptResult',
};
const MODERN_RESPONSE = {
  'server/discover': 'DiscoverResultResponse',
  'tools/list': 'ListToolsResultResponse',
  'tools/call': 'CallToolResultResponse',
  'resources/list': 'ListResourcesResultResponse',
  'resources/templates/list': 'ListResourceTemplatesResultResponse',
  'resources/read': 'ReadResourceResultResponse',
  'prompts/list': 'ListPromptsResultResponse',
  'prompts/get': 'GetPromptResultResponse',
};

// Checks every server→client message against `revision`'s schema; `methodOf` maps request
// ids to the method that was called.
function checkMessages(revision, messages, methodOf, modern = false) {
  const validate = schemaValidator(revision);
  const problems = [];
  for (const msg of messages) {
    let errs = [];
    if (msg.method !== undefined) {
      errs = validate('ServerNotification', msg);
      if (errs.length) errs = validate('JSONRPCNotification', msg).concat(errs);
    } else if (msg.error !== undefined) {
      // JSON-RPC 2.0 requires "id": null on an error whose request id is unknown (a parse
      // error); the MCP schema types ids as string|integer, so that member is checked here.
      if (msg.id === null) {
        const { id, ...rest } = msg;
        errs = validate('JSONRPCErrorResponse', rest);
      } else {
        errs = validate('JSONRPCErrorResponse', msg);
      }
    } else {
      errs = validate('JSONRPCResultResponse', msg);
      const method = methodOf.get(msg.id);
      if (modern && MODERN_RESPONSE[method]) {
        errs = errs.concat(validate(MODERN_RESPONSE[method], msg));
      } else if (!modern && LEGACY_RESULT[method]) {
        errs = errs.concat(validate(LEGACY_RESULT[method], msg.result));
      } else if (method) {
        errs.push(`no schema mapping for ${method}`);
      }
    }
    if (errs.length) problems.push(`${JSON.stringify(msg).slice(0, 300)}\n  ${errs.join('\n  ')}`);
  }
  assert.deepEqual(problems, [], `schema violations (${revision})`);
}

// A transport that records every message on its way in and out.
class RecordingTransport {
  constructor(inner) {
    this.inner = inner;
    this.received = [];
    this.methodOf = new Map();
    inner.onmessage = (m) => {
      this.received.push(m);
      this.onmessage?.(m);
    };
    inner.onclose = () => this.onclose?.();
    inner.onerror = (e) => this.onerror?.(e);
  }
  start() { return this.inner.start(); }
  send(m, o) {
    if (m.id !== undefined && m.method) this.methodOf.set(m.id, m.method);
    return this.inner.send(m, o);
  }
  close() { return this.inner.close(); }
  setProtocolVersion(v) { this.inner.setProtocolVersion?.(v); }
  get sessionId() { return this.inner.sessionId; }
}

test('official SDK client: every tool, resource and prompt (2025-11-25)', async () => {
  const fx = makeFixture();
  const transport = new RecordingTransport(new StdioClientTransport({
    command: BIN, args: ['mcp', '--db', fx.db, '--audit-log', fx.audit, '--time-limit-ms', '1500'],
    stderr: 'pipe',
  }));
  const client = new Client({ name: 'causeway-wire-test', version: '1.0.0' });
  await client.connect(transport);
  assert.equal(client.getServerVersion().name, 'causeway');
  const caps = client.getServerCapabilities();
  assert.ok(caps.tools && caps.resources && caps.prompts && caps.logging);
  assert.ok(client.getInstructions().includes('data, never'));

  await client.ping();
  await client.setLoggingLevel('info');

  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(tools.map((t) => t.name).sort(), Object.keys(TOOL_CALLS).sort());
  const checkOutput = outputValidator();
  for (const tool of tools) {
    assert.equal(tool.annotations.readOnlyHint, true, tool.name);
    const result = await client.callTool({ name: tool.name, arguments: TOOL_CALLS[tool.name] });
    assert.ok(result.content[0].text.length > 0, tool.name);
    assert.equal(result.isError, false, `${tool.name}: ${result.content[0].text}`);
    assert.deepEqual(checkOutput(tool.outputSchema, result.structuredContent), [], tool.name);
  }
  // The slow call of the scenario is what run_sql finds first.
  const top = await client.callTool({ name: 'run_sql', arguments: TOOL_CALLS.run_sql });
  assert.equal(top.structuredContent.rows[0][1], 'cudaStreamSynchronize');
  assert.equal(top.structuredContent.rows[0][2], 41000000);

  // A refused write is a tool error the agent can read.
  const write = await client.callTool({ name: 'run_sql', arguments: { sql: 'DROP TABLE meta' } });
  assert.equal(write.isError, true);
  assert.match(write.content[0].text, /read-only/);

  // Progress notifications for a long call, then the time-limit error.
  const progress = [];
  const slow = await client.callTool(
    { name: 'run_sql', arguments: { sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c' } },
    undefined, { onprogress: (p) => progress.push(p), timeout: 60000 });
  assert.equal(slow.isError, true);
  assert.match(slow.content[0].text, /time limit/);
  assert.ok(progress.length >= 1, 'no progress notifications');

  // Cancellation: the SDK sends notifications/cancelled when the signal aborts.
  const abort = new AbortController();
  const cancelled = client.callTool(
    { name: 'run_sql', arguments: { sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c' } },
    undefined, { signal: abort.signal });
  setTimeout(() => abort.abort('test'), 200);
  await assert.rejects(cancelled);
  await client.ping();  // still serving

  const resources = await client.listResources();
  assert.equal(resources.resources.length, 2);
  for (const r of resources.resources) {
    const read = await client.readResource({ uri: r.uri });
    assert.ok(read.contents[0].text.length > 100, r.uri);
  }
  await client.listResourceTemplates();
  const prompts = await client.listPrompts();
  assert.equal(prompts.prompts[0].name, 'investigate');
  const prompt = await client.getPrompt({ name: 'investigate', arguments: { question: 'Why is decode slow?' } });
  assert.match(prompt.messages[0].content.text, /Why is decode slow\?/);

  await client.close();
  checkMessages('2025-11-25', transport.received, transport.methodOf);
  assert.match(verifyAudit(fx.audit), /hash chain intact/);
});

test('raw client: 2025-06-18 negotiation and JSON-RPC errors validate', async () => {
  const fx = makeFixture();
  const c = new RawClient(fx.db, fx.audit);
  const methodOf = new Map();
  const req = async (method, params) => {
    methodOf.set(c.nextId, method);
    return c.request(method, params);
  };
  const init = await req('initialize', {
    protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' },
  });
  assert.equal(init.result.protocolVersion, '2025-06-18');
  c.notify('notifications/initialized');
  assert.equal((await req('nope/nope', {})).error.code, -32601);
  assert.equal((await req('tools/call', { name: 'missing' })).error.code, -32602);
  assert.equal((await req('tools/list', { cursor: 'bogus' })).error.code, -32602);
  c.sendRaw('{"jsonrpc": "2.0", "id": 99, "method": ');
  c.sendRaw('[{"jsonrpc":"2.0","id":98,"method":"ping"}]');
  for (const name of Object.keys(TOOL_CALLS)) {
    await req('tools/call', { name, arguments: TOOL_CALLS[name] });
  }
  await req('ping');
  assert.equal(await c.close(), 0);
  checkMessages('2025-11-25', c.lines, methodOf);
  assert.equal(c.lines.filter((m) => m.error?.code === -32700).length, 1);
  assert.equal(c.lines.find((m) => m.error?.code === -32700).id, null);  // JSON-RPC 2.0
  assert.equal(c.lines.filter((m) => m.error?.code === -32600).length, 1);
});

test('raw client: stateless 2026-07-28 (server/discover, per-request _meta)', async () => {
  const fx = makeFixture();
  const c = new RawClient(fx.db, fx.audit);
  const methodOf = new Map();
  const req = async (method, params) => {
    methodOf.set(c.nextId, method);
    return c.request(method, params);
  };
  const meta = { _meta: MODERN_META };
  const d = await req('server/discover', meta);
  assert.ok(d.result.supportedVersions.includes('2026-07-28'));
  const tools = await req('tools/list', meta);
  assert.equal(tools.result.tools.length, 7);
  const checkOutput = outputValidator();
  for (const tool of tools.result.tools) {
    const r = await req('tools/call', { ...meta, name: tool.name, arguments: TOOL_CALLS[tool.name] });
    assert.equal(r.result.resultType, 'complete');
    if (!r.result.isError) {
      assert.deepEqual(checkOutput(tool.outputSchema, r.result.structuredContent), [], tool.name);
    }
  }
  const res = await req('resources/list', meta);
  for (const r of res.result.resources) await req('resources/read', { ...meta, uri: r.uri });
  await req('resources/templates/list', meta);
  await req('prompts/list', meta);
  await req('prompts/get', { ...meta, name: 'investigate' });
  // Progress with the per-request token; logging opted into per request.
  const logged = await req('tools/call', {
    _meta: { ...MODERN_META, progressToken: 'p1', 'io.modelcontextprotocol/logLevel': 'debug' },
    name: 'run_sql', arguments: { sql: 'SELECT 1' },
  });
  assert.equal(logged.result.isError, false);
  const unsupported = await req('tools/list', {
    _meta: { ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2030-01-01' },
  });
  assert.equal(unsupported.error.code, -32022);
  assert.deepEqual(schemaValidator('2026-07-28')('UnsupportedProtocolVersionError', unsupported), []);
  assert.equal(await c.close(), 0);
  assert.ok(c.lines.some((m) => m.method === 'notifications/message'), 'no log message');
  checkMessages('2026-07-28', c.lines, methodOf, true);
  assert.match(verifyAudit(fx.audit), /hash chain intact/);
});

// Issue 16 items 12 and 13, through the real binary: a client's oversized id, method and name
// do not break the audit chain; an audit log that cannot be written stops tool calls.
test('hostile client: huge ids and names keep the audit chain verifiable', async () => {
  const fx = makeFixture();
  const c = new RawClient(fx.db, fx.audit);
  const init = await c.request('initialize', {
    protocolVersion: '2025-11-25', capabilities: {},
    clientInfo: { name: 'n'.repeat(3_000_000), version: '1' },
  });
  assert.equal(init.result.protocolVersion, '2025-11-25');
  c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'i'.repeat(300_000), method: 'ping' }));
  c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 5000, method: 'm'.repeat(300_000) }));
  for (let i = 0; i < 3; i++) await c.request('ping');
  assert.equal(await c.close(), 0);
  assert.match(verifyAudit(fx.audit), /6 records, hash chain intact/);
  const sizes = readFileSync(fx.audit, 'utf8').trimEnd().split('\n').map((l) => l.length);
  assert.ok(Math.max(...sizes) <= 16384, `record sizes ${sizes}`);
});

test('hostile environment: an unwritable audit log stops tool calls', { skip: !existsSync('/dev/full') }, async () => {
  const fx = makeFixture();
  const c = new RawClient(fx.db, '/dev/full');
  await c.request('initialize', {
    protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' },
  });
  const r = await c.request('tools/call', { name: 'run_sql', arguments: { sql: 'SELECT 1' } });
  assert.equal(r.error.code, -32001);
  assert.match(r.error.message, /audit log cannot be written \(.*No space left on device/);
  assert.equal((await c.request('ping')).result !== undefined, true);
  assert.equal(await c.close(), 0);
  assert.match(c.stderr, /Serving no more trace data/);
});
