// Golden outputs: each tool called on the fixture trace (mcp_fixture.h) must return exactly
// the structuredContent, text and isError stored in tests/mcp/golden/<case>.json.
// Regenerate deliberately with tests/mcp/update_golden.sh (CAUSEWAY_UPDATE_GOLDEN=1), then
// review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient, SOURCE_DIR, TOOL_CALLS, makeFixture } from './wire_support.mjs';

const GOLDEN_DIR = join(SOURCE_DIR, 'tests/mcp/golden');
const UPDATE = process.env.CAUSEWAY_UPDATE_GOLDEN === '1';

// One case per tool plus the variants an investigation relies on.
const CASES = {
  ...Object.fromEntries(Object.entries(TOOL_CALLS).map(([name, args]) => [name, { name, args }])),
  get_timeline_cpu: { name: 'get_timeline', args: { cpu: 3, ts: 9500000, window_ns: 5000000 } },
  get_timeline_tid: { name: 'get_timeline', args: { tid: 4250, ts: 62000000, window_ns: 8000000 } },
  get_stacks_offcpu: { name: 'get_stacks', args: { source: 'thread_state', state: 'sleeping' } },
  get_stacks_syscall: { name: 'get_stacks', args: { source: 'syscall', syscall: 'futex' } },
  run_sql_truncated: { name: 'run_sql', args: { sql: 'SELECT id, ts FROM cuda_call ORDER BY id', max_rows: 2 } },
  run_sql_refused: { name: 'run_sql', args: { sql: 'DELETE FROM meta' } },
  list_processes_traced: { name: 'list_processes', args: {} },
};

// Timings vary run to run; everything else is deterministic.
function normalize(result) {
  const out = { isError: result.isError ?? false, text: result.content?.[0]?.text ?? '' };
  out.text = out.text.replace(/in [0-9.]+ ms/g, 'in <t> ms');
  if (result.structuredContent !== undefined) {
    out.structuredContent = JSON.parse(JSON.stringify(result.structuredContent));
    if ('elapsed_ms' in out.structuredContent) out.structuredContent.elapsed_ms = 0;
  }
  return out;
}

test('tool outputs match the golden files', async () => {
  const fx = makeFixture();
  const c = new RawClient(fx.db, fx.audit);
  await c.request('initialize', {
    protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'golden', version: '0' },
  });
  c.notify('notifications/initialized');
  const mismatches = [];
  for (const [key, { name, args }] of Object.entries(CASES)) {
    const r = await c.request('tools/call', { name, arguments: args });
    assert.ok(r.result, `${key}: ${JSON.stringify(r.error)}`);
    const got = normalize(r.result);
    const file = join(GOLDEN_DIR, `${key}.json`);
    const text = JSON.stringify({ tool: name, arguments: args, ...got }, null, 2) + '\n';
    if (UPDATE) {
      writeFileSync(file, text);
      continue;
    }
    if (!existsSync(file)) {
      mismatches.push(`${key}: no golden file ${file} (run tests/mcp/update_golden.sh)`);
      continue;
    }
    if (readFileSync(file, 'utf8') !== text) {
      mismatches.push(`${key}: output differs from ${file}\n--- got ---\n${text}`);
    }
  }
  await c.close();
  assert.deepEqual(mismatches, []);
});
