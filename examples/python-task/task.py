#!/usr/bin/env python3
"""A gradual task written without the SDK: Python 3.11 standard library only.

What it does: each round it attests the ledger's blocks of the round's work period
(slots start(r)..start(r+1)): digest = sha256 of "slot:hash\n" lines. The proof is
sha256("gradual-py-attestor/v1" | digest | node (base58 text) | round (u64 LE)), so it is
bound to the node and the round; auditors recompute the digest from their own node's view of
the ledger. Rewards are the default equal split. Peers can read GET /digest/<round>.

What it does NOT do: talk to the validator or to peers directly (only the node's
task-service API), or depend on anything outside the standard library.

    node --POST /gradual/v1/{task,submission,audit,distribution} (bearer)--> this process
    this process --GET /node/v1/{task,slot,blocks} (bearer)--> node

The contract is docs/task-protocol.md. GRADUAL_ADVERSARY=garbage|false-accuser|
bad-distribution|offline makes it misbehave (test networks only).
"""

import base64
import hashlib
import hmac
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUIRED = ["GRADUAL_TASK_ID", "GRADUAL_NODE_PUBKEY", "GRADUAL_TASK_PORT",
            "GRADUAL_NODE_URL", "GRADUAL_TASK_TOKEN", "GRADUAL_DATA_DIR"]
ADVERSARIES = ["garbage", "false-accuser", "bad-distribution", "offline"]
TAG = b"gradual-py-attestor/v1"
BLOCKS_LIMIT = 100
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def log(msg):
    print(f"py-task: {msg}", file=sys.stderr, flush=True)


def b58decode(s):
    n = 0
    for ch in s:
        i = B58.find(ch)
        if i < 0:
            raise ValueError(f"'{s[:60]}' is not base58")
        n = n * 58 + i
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    pad = len(s) - len(s.lstrip("1"))
    return b"\0" * pad + raw


def load_env():
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        sys.exit(f"error: environment variable(s) {', '.join(missing)} not set; "
                 f"a gradual node starts this task with {', '.join(REQUIRED)}")
    adversary = os.environ.get("GRADUAL_ADVERSARY", "")
    if adversary not in ["", "none"] + ADVERSARIES:
        sys.exit(f"error: GRADUAL_ADVERSARY='{adversary}' is invalid; expected one of "
                 f"{', '.join(ADVERSARIES)} (or unset it)")
    try:
        port = int(os.environ["GRADUAL_TASK_PORT"])
    except ValueError:
        sys.exit("error: GRADUAL_TASK_PORT is not a port number 1-65535")
    return {
        "task": os.environ["GRADUAL_TASK_ID"],
        "node": os.environ["GRADUAL_NODE_PUBKEY"],
        "port": port,
        "url": os.environ["GRADUAL_NODE_URL"].rstrip("/"),
        "token": os.environ["GRADUAL_TASK_TOKEN"],
        "data": os.environ["GRADUAL_DATA_DIR"],
        "adversary": adversary if adversary in ADVERSARIES else None,
    }


ENV = None


class ServiceError(Exception):
    pass


def service(path):
    """GET a task-service API path with the bearer token; returns parsed JSON."""
    req = urllib.request.Request(ENV["url"] + path,
                                 headers={"Authorization": "Bearer " + ENV["token"]})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise ServiceError(f"node answered {e.code} to GET {path}: {e.read()[:300]!r}")
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ServiceError(f"cannot call GET {path} on the node: {e}")


def round_slots(rnd):
    t = service("/node/v1/task")
    start = t["starting_slot"] + rnd * t["params"]["round_time"]
    return start, start + t["params"]["round_time"]


def round_digest(rnd):
    """sha256 over 'slot:hash\\n' of every block in the round; fails if the round is not over."""
    path = os.path.join(ENV["data"], f"round-{rnd}.json")
    try:
        with open(path) as f:
            return bytes.fromhex(json.load(f)["digest"])
    except (OSError, ValueError, KeyError):
        pass
    start, end = round_slots(rnd)
    head = service("/node/v1/slot")["slot"]
    # Blocks come in slot order: once the node has seen the last slot of the round (end - 1)
    # the round's blocks are all known. The node asks for the proof at that slot.
    if head + 1 < end:
        raise ServiceError(f"round {rnd} is not over: the node is at slot {head}, "
                           f"its last slot is {end - 1}")
    h = hashlib.sha256()
    frm = start
    while frm < end:
        page = service(f"/node/v1/blocks?from={frm}&limit={BLOCKS_LIMIT}")
        if not page:
            break
        for b in page:
            if start <= b["slot"] < end:
                h.update(f"{b['slot']}:{b['hash']}\n".encode())
        frm = page[-1]["slot"] + 1
    digest = h.digest()
    os.makedirs(ENV["data"], exist_ok=True)
    with open(path, "w") as f:
        json.dump({"round": rnd, "digest": digest.hex()}, f)
    return digest


def proof(digest, node, rnd):
    return hashlib.sha256(TAG + digest + node.encode() + rnd.to_bytes(8, "little")).digest()


def equal_split(submitters, bounty):
    if not submitters:
        return []
    share = bounty // len(submitters)
    return sorted(([n, share] for n in submitters), key=lambda e: b58decode(e[0]))


def do_task(rnd):
    try:
        _, end = round_slots(rnd)
        for _ in range(10_000):
            if service("/node/v1/slot")["slot"] + 1 >= end:
                break
            time.sleep(0.2)
        round_digest(rnd)
    except ServiceError as e:
        log(f"task(round {rnd}) failed: {e}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        given = self.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), ("Bearer " + ENV["token"]).encode()):
            return True
        self.reply(401, {"error": "missing or wrong bearer token; send 'Authorization: Bearer <GRADUAL_TASK_TOKEN>'"})
        return False

    def body(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
            if n > 1 << 20:
                raise ValueError("body larger than 1 MiB")
            b = json.loads(self.rfile.read(n) or b"null")
            if not isinstance(b, dict) or not isinstance(b.get("round"), int) or b["round"] < 0:
                raise ValueError('expected a JSON object with a "round" number')
            return b
        except ValueError as e:
            self.reply(400, {"error": f"{self.path}: bad body ({e}); see docs/task-protocol.md §2"})
            return None

    def do_GET(self):
        if self.path == "/gradual/v1/health":
            if self.authorized():
                self.reply(200, {"ok": True})
        elif self.path.startswith("/digest/"):
            try:
                rnd = int(self.path[len("/digest/"):])
                with open(os.path.join(ENV["data"], f"round-{rnd}.json")) as f:
                    self.reply(200, json.load(f))
            except (ValueError, OSError):
                self.reply(404, {"error": "no digest for that round; GET /digest/<round>"})
        else:
            self.reply(404, {"error": f"no route GET {self.path}"})

    def do_POST(self):
        if not self.path.startswith("/gradual/v1/"):
            self.reply(404, {"error": f"no route POST {self.path}"})
            return
        if not self.authorized():
            return
        b = self.body()
        if b is None:
            return
        rnd = b["round"]
        adv = ENV["adversary"]
        try:
            if self.path == "/gradual/v1/task":
                threading.Thread(target=do_task, args=(rnd,), daemon=True).start()
                self.reply(200, {})
            elif self.path == "/gradual/v1/submission":
                if adv == "offline":
                    time.sleep(3600)
                    return
                if adv == "garbage":
                    value = random.randbytes(32)
                else:
                    value = proof(round_digest(rnd), ENV["node"], rnd)
                self.reply(200, {"value": base64.b64encode(value).decode()})
            elif self.path == "/gradual/v1/audit":
                verdict = "invalid"
                if adv != "false-accuser":
                    try:
                        value = base64.b64decode(b["value"], validate=True)
                        ok = value == proof(round_digest(rnd), str(b["candidate"]), rnd)
                        verdict = "valid" if ok else "invalid"
                    except (ServiceError, ValueError, KeyError) as e:
                        log(f"audit(round {rnd}) could not check, abstaining: {e}")
                        verdict = "abstain"
                self.reply(200, {"verdict": verdict})
            elif self.path == "/gradual/v1/distribution":
                subs = b.get("submitters", [])
                bounty = b.get("bounty", 0)
                if not isinstance(subs, list) or not isinstance(bounty, int) or bounty < 0:
                    raise ValueError('expected "submitters": [...] and "bounty": ROE')
                entries = equal_split([str(s) for s in subs], bounty)
                if adv == "bad-distribution" and any(e[0] == ENV["node"] for e in entries):
                    others = sum(e[1] // 2 for e in entries if e[0] != ENV["node"])
                    entries = [[n, bounty - others if n == ENV["node"] else r // 2] for n, r in entries]
                self.reply(200, {"entries": entries})
            else:
                self.reply(404, {"error": f"no control call {self.path}"})
        except (ServiceError, ValueError) as e:
            log(f"{self.path} (round {rnd}) failed: {e}")
            self.reply(500, {"error": f"{self.path} (round {rnd}) failed: {e}"})


def main():
    global ENV
    ENV = load_env()
    os.makedirs(ENV["data"], exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", ENV["port"]), Handler)
    log(f"task {ENV['task']} for node {ENV['node']} listening on 127.0.0.1:{ENV['port']}"
        + (f" (ADVERSARY: {ENV['adversary']})" if ENV["adversary"] else ""))
    server.serve_forever()


if __name__ == "__main__":
    main()
