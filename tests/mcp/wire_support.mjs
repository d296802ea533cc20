// Shared helpers of the MCP wire tests: paths, the fixture trace, schema validation with the
// official MCP JSON schemas, and a raw newline-delimited JSON-RPC client.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const BIN = process.env.CAUSEWAY_BIN ?? 'build/causeway';
export const FIXTURE_BIN = process.env.CAUSEWAY_FIXTURE_BIN ?? 'build/make_fixture_trace';
export const SCHEMA_DIR = process.env.CAUSEWAY_MCP_SCHEMA_DIR ?? '../shared/mcp-schema';
export const SOURCE_DIR = process.env.CAUSEWAY_SOURCE_DIR ?? '.';

// A fresh fixture trace in a temporary directory.
export function makeFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-wire-'));
  const db = join(dir, 'trace.db');
  execFileSync(FIXTURE_BIN, [db]);
  return { dir, db, audit: join(dir, 'trace.db.audit.jsonl') };
}

// Validators for one revision of the official schema: validate(defName, value) returns a list
// of error strings (empty when valid).
export function schemaValidator(revision) {
  const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, `${revision}.json`), 'utf8'));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const id = `https://causeway.invalid/mcp/${revision}`;
  ajv.addSchema({ ...schema, $id: id });
  const cache = new Map();
  return (defName, value) => {
    if (!(defName in schema.$defs)) throw new Error(`no $defs/${defName} in ${revision}`);
    let v = cache.get(defName);
    if (!v) {
      v = ajv.compile({ $ref: `${id}#/$defs/${defName}` });
      cache.set(defName, v);
    }
    return v(value) ? [] : v.errors.map((e) => `${defName}${e.instancePath} ${e.message}`);
  };
}

// A tool's outputSchema applied to its structuredContent.
export function outputValidator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  return (schema, value) => {
    const v = ajv.compile(schema);
    return v(value) ? [] : v.errors.map((e) => `${e.instancePath} ${e.message}`);
  };
}

// A raw newline-delimited JSON-RPC client over `causeway mcp`, for what the SDK does not do
// (other protocol revisions, malformed input). Every line the server writes is kept.
export class RawClient {
  constructor(db, audit) {
    this.proc = spawn(BIN, ['mcp', '--db', db, '--audit-log', audit], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.lines = [];
    this.waiters = new Map();
    this.nextId = 1;
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line);
      this.lines.push(msg);
      if (msg.id !== undefined && this.waiters.has(msg.id)) {
        this.waiters.get(msg.id)(msg);
        this.waiters.delete(msg.id);
      }
    });
  }
  sendRaw(text) {
    this.proc.stdin.write(text + '\n');
  }
  request(method, params) {
    const id = this.nextId++;
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    return new Promise((resolve) => {
      this.waiters.set(id, resolve);
      this.sendRaw(JSON.stringify(msg));
    });
  }
  notify(method, params) {
    const msg = { jsonrpc: '2.0', method };
    if (params !== undefined) msg.params = params;
    this.sendRaw(JSON.stringify(msg));
  }
  close() {
    this.proc.stdin.end();
    return new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }
}

export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'causeway-wire-test', version: '1.0.0' },
};

// Arguments that exercise each tool on the fixture trace (see mcp_fixture.h).
export const TOOL_CALLS = {
  get_trace_stats: {},
  get_causal_chains: {},
  run_sql: {
    sql: 'SELECT id, function, dur, thread_name FROM cuda_calls ORDER BY dur DESC LIMIT 3',
  },
  get_timeline: { event_table: 'cuda_call', event_id: 28, window_ns: 2000000 },
  get_stacks: { function: 'cudaStreamSynchronize' },
  list_processes: { traced_only: false },
  describe_schema: { table: 'thread_states' },
};

export function verifyAudit(audit) {
  return execFileSync(BIN, ['audit', '--verify', audit]).toString();
}
