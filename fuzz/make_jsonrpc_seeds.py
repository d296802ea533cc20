#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_jsonrpc (fuzz/corpus/jsonrpc/): one MCP session per file,
newline-separated wire lines. Each golden tool call of tests/mcp/golden/ in both protocol eras,
plus lists, pagination, resources, the prompt, logging and progress, cancellation, discovery
and malformed lines. Run from the repository root."""
import glob
import json
import os

OUT = 'fuzz/corpus/jsonrpc'
MODERN = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': {'name': 'fuzz', 'version': '2'},
}


def line(o):
    return json.dumps(o, separators=(',', ':'))


def req(id_, method, params):
    return line({'jsonrpc': '2.0', 'id': id_, 'method': method, 'params': params})


INIT = req(1, 'initialize', {'protocolVersion': '2025-11-25', 'capabilities': {},
                             'clientInfo': {'name': 'fuzz', 'version': '1'}})
INITED = line({'jsonrpc': '2.0', 'method': 'notifications/initialized'})

seeds = {}
for g in sorted(glob.glob('tests/mcp/golden/*.json')):
    d = json.load(open(g))
    name = os.path.basename(g)[:-5]
    seeds['legacy_' + name] = [INIT, INITED, req(2, 'tools/call',
                                                 {'name': d['tool'], 'arguments': d['arguments']})]
    seeds['modern_' + name] = [req('m1', 'tools/call', {'_meta': MODERN, 'name': d['tool'],
                                                        'arguments': d['arguments']})]
seeds['lists'] = [INIT, INITED] + [req(i + 2, m, {}) for i, m in enumerate(
    ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'ping'])]
seeds['pagination'] = [INIT, INITED, req(2, 'tools/list', {'cursor': 'Mw'})]
seeds['resources'] = [INIT, INITED, req(2, 'resources/read', {'uri': 'causeway://trace/schema'}),
                      req(3, 'resources/read', {'uri': 'causeway://trace/summary'})]
seeds['prompt'] = [INIT, INITED, req(2, 'prompts/get', {
    'name': 'investigate', 'arguments': {'question': 'why is decode slow?'}})]
seeds['logging_progress'] = [INIT, INITED, req(2, 'logging/setLevel', {'level': 'debug'}),
                             req(3, 'tools/call', {'_meta': {'progressToken': 'p1'},
                                                   'name': 'get_trace_stats', 'arguments': {}})]
seeds['cancel'] = [INIT, INITED,
                   line({'jsonrpc': '2.0', 'method': 'notifications/cancelled',
                         'params': {'requestId': 2, 'reason': 'user'}}),
                   req(2, 'tools/call', {'name': 'run_sql',
                                         'arguments': {'sql': 'SELECT count(*) FROM cuda_call'}})]
seeds['modern_discover'] = [req(1, 'server/discover', {'_meta': MODERN})]
seeds['malformed'] = [
    '{not json', '[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
    '{"jsonrpc":"1.0","id":"x","method":"ping"}', '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":[]}',
    '{"jsonrpc":"2.0","id":9,"result":{}}']
seeds['old_version'] = [
    req(1, 'initialize', {'protocolVersion': '2025-06-18', 'capabilities': {},
                          'clientInfo': {'name': 'a\u001b]0;x\u0007', 'version': '\U0001F600'}}),
    INITED, req(2, 'tools/call', {'name': 'get_causal_chains',
                                  'arguments': {'top': 1, 'category': 'cpu_contention'}})]

os.makedirs(OUT, exist_ok=True)
for k, v in seeds.items():
    with open(os.path.join(OUT, k), 'w') as f:
        f.write('\n'.join(v) + '\n')
