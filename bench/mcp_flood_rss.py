#!/usr/bin/env python3
"""Peak memory of `causeway mcp` under a flood of large tool calls (issue 16, item 8).

Starts the server on a trace, keeps its worker busy with one endless query, then sends COUNT
tool calls of about 4 MB each as fast as the pipe takes them, reading every response. Prints
the server's peak RSS (VmHWM) and how many calls were refused as busy. Loopback only: the
server is a child process on pipes.

usage: bench/mcp_flood_rss.py CAUSEWAY_BIN TRACE_DB [COUNT]
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time


def main():
    binary, db = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    audit = os.path.join(tempfile.mkdtemp(prefix="causeway-flood-"), "audit.jsonl")
    proc = subprocess.Popen(
        [binary, "mcp", "--db", db, "--audit-log", audit, "--time-limit-ms", "60000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    replies = {"busy": 0, "other": 0}

    def drain():
        for line in proc.stdout:
            msg = json.loads(line)
            if msg.get("error", {}).get("code") == -32000:
                replies["busy"] += 1
            else:
                replies["other"] += 1

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()

    def send(msg):
        proc.stdin.write((json.dumps(msg) + "\n").encode())
        proc.stdin.flush()

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
          "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                     "clientInfo": {"name": "flood", "version": "1"}}})
    endless = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
               "SELECT count(*) FROM c")
    send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
          "params": {"name": "run_sql", "arguments": {"sql": endless}}})
    time.sleep(0.3)
    pad = "x" * (4 * 1024 * 1024 - 200)
    started = time.time()
    for i in range(count):
        send({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
              "params": {"name": "run_sql", "arguments": {"sql": "SELECT 1 -- " + pad}}})
    with open(f"/proc/{proc.pid}/status") as f:
        status = dict(l.split(":", 1) for l in f if ":" in l)
    sent_s = time.time() - started
    for i in [1] + list(range(100, 100 + count)):
        send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": i}})
    proc.stdin.close()
    proc.wait(timeout=600)
    reader.join(timeout=10)
    print(f"{count} calls of 4 MiB in {sent_s:.1f} s: peak RSS {status['VmHWM'].strip()}, "
          f"RSS after the flood {status['VmRSS'].strip()}, busy replies {replies['busy']}, "
          f"other replies {replies['other']}")


if __name__ == "__main__":
    main()
