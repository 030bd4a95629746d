#!/usr/bin/env python3
"""The node crate's built-in demo task (stdlib only), written to docs/task-protocol.md.

Work for round r is a deterministic digest; the proof commits to it, the node and the round,
so a copied or made-up proof fails its audit. The proof is kept in the node's key-value store
(and served to peers at GET /proof/<round>) so a restarted task gives the same answer.

GRADUAL_ADVERSARY: garbage (random proofs), false-accuser (calls every proof invalid),
bad-distribution (pays itself everything), offline (never submits, abstains).
DEMO_TASK_FAULTS: comma list, one per process life (hang, crash, oom, ok), for tests of
the node's supervisor.
"""

import base64
import hashlib
import json
import os
import signal
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TASK_ID = os.environ["GRADUAL_TASK_ID"]
NODE = os.environ["GRADUAL_NODE_PUBKEY"]
PORT = int(os.environ["GRADUAL_TASK_PORT"])
NODE_URL = os.environ["GRADUAL_NODE_URL"].rstrip("/")
TOKEN = os.environ["GRADUAL_TASK_TOKEN"]
DATA = os.environ["GRADUAL_DATA_DIR"]
ADVERSARY = os.environ.get("GRADUAL_ADVERSARY", "")

# Which life of this process is this? (for DEMO_TASK_FAULTS)
LIVES = os.path.join(DATA, "lives")
try:
    with open(LIVES) as f:
        LIFE = int(f.read().strip() or "0")
except (OSError, ValueError):
    LIFE = 0
with open(LIVES, "w") as f:
    f.write(str(LIFE + 1))
FAULTS = [x for x in os.environ.get("DEMO_TASK_FAULTS", "").split(",") if x]
FAULT = FAULTS[LIFE] if LIFE < len(FAULTS) else "ok"
HANG = threading.Event()
HOG = []


def log(msg):
    print(f"[task life {LIFE}] {msg}", flush=True)


def node_call(method, path, body=None, raw=False):
    req = urllib.request.Request(NODE_URL + path, data=body, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    with urllib.request.urlopen(req, timeout=5) as r:
        data = r.read()
        return data if raw else json.loads(data or b"null")


def work(rnd):
    return hashlib.sha256(f"gradual-demo-work/{TASK_ID}/{rnd}".encode()).digest()


def proof_for(node, rnd):
    return hashlib.sha256(work(rnd) + node.encode() + str(rnd).encode()).digest()


def my_proof(rnd):
    key = f"/node/v1/kv/proof-{rnd}"
    try:
        return node_call("GET", key, raw=True)
    except Exception:
        value = proof_for(NODE, rnd)
        if ADVERSARY == "garbage":
            value = os.urandom(32)
        try:
            node_call("PUT", key, value, raw=True)
        except Exception as e:
            log(f"kv put failed: {e}")
        return value


def fault_on_task_call():
    if FAULT == "hang":
        log("fault injection: hanging every handler")
        HANG.set()
    elif FAULT == "crash":
        log("fault injection: crashing")
        os.kill(os.getpid(), signal.SIGSEGV)
    elif FAULT == "oom":
        log("fault injection: allocating without bound")

        def eat():
            while True:
                HOG.append(b"x" * (4 * 1024 * 1024))
                time.sleep(0.02)

        threading.Thread(target=eat, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self):
        if HANG.is_set():
            threading.Event().wait()
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.answer(401, {"error": "bad token"})
            return False
        return True

    def do_GET(self):
        if self.path == "/gradual/v1/health":
            if self.control():
                self.answer(200, {"ok": True})
        elif self.path.startswith("/proof/"):
            try:
                rnd = int(self.path.split("/")[2])
            except (IndexError, ValueError):
                self.answer(400, {"error": "GET /proof/<round>"})
                return
            self.answer(200, {"node": NODE, "round": rnd, "proof": base64.b64encode(my_proof(rnd)).decode()})
        else:
            self.answer(404, {"error": "no such route"})

    def do_POST(self):
        if not self.path.startswith("/gradual/v1/"):
            self.answer(404, {"error": "no such route"})
            return
        if not self.control():
            return
        try:
            n = int(self.headers.get("content-length") or 0)
            req = json.loads(self.rfile.read(n) or b"{}")
            rnd = int(req["round"])
        except (ValueError, KeyError, TypeError) as e:
            self.answer(400, {"error": f"bad body: {e}"})
            return
        call = self.path[len("/gradual/v1/"):]
        if call == "task":
            log(f"task round {rnd}")
            fault_on_task_call()
            my_proof(rnd)
            self.answer(200, {})
        elif call == "submission":
            if ADVERSARY == "offline":
                self.answer(200, {"value": None})
                return
            self.answer(200, {"value": base64.b64encode(my_proof(rnd)).decode()})
        elif call == "audit":
            if ADVERSARY == "offline":
                self.answer(200, {"verdict": "abstain"})
                return
            value = base64.b64decode(req.get("value", ""))
            ok = value == proof_for(req.get("candidate", ""), rnd)
            verdict = "valid" if ok and ADVERSARY != "false-accuser" else "invalid"
            log(f"audit round {rnd} {req.get('candidate')}: {verdict}")
            self.answer(200, {"verdict": verdict})
        elif call == "distribution":
            subs = list(req.get("submitters", []))
            bounty = int(req.get("bounty", 0))
            if ADVERSARY == "bad-distribution" and NODE in subs:
                entries = [[NODE, bounty]]
            else:
                share = bounty // len(subs) if subs else 0
                entries = [[s, share] for s in subs]
            self.answer(200, {"entries": entries})
        else:
            self.answer(404, {"error": f"unknown call {call}"})


log(f"starting on port {PORT} (adversary={ADVERSARY or 'none'}, fault={FAULT})")
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
