#!/usr/bin/env python3
"""promwatch vs vmalert, side by side, on loopback. Started by bench/run (see bench/README.md).

One VictoriaMetrics single-node is the shared datasource. For every workload the same rules are
given to vmalert and to promwatch, one after the other; each daemon runs alone for a warm-up and
then a fixed measurement window, during which we read from /proc its own CPU seconds
(utime+stime) and at the end its peak RSS (VmHWM), from its own /metrics the rule evaluations it
did, and from a local sink the notifications it delivered.

Sub-commands used internally: `sink PORT` (counts POSTs, and the samples of remote-write ones),
`fakeds PORT LOG` (a datasource that
answers empty vectors and logs query arrival lateness, for the jitter phase).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def env_int(name, default):
    return int(os.environ.get(name, default))


WINDOW = env_int("BENCH_WINDOW", 60)          # seconds measured per daemon per workload
WARMUP = env_int("BENCH_WARMUP", 20)          # seconds before the window (w3: at least 2 intervals)
WARMUP_W3 = env_int("BENCH_WARMUP_W3", 60)   # vmalert needs ~50 s for its first round here
WARMUP_BASE = env_int("BENCH_WARMUP_BASE", 30)
JITTER_WINDOW = env_int("BENCH_JITTER_WINDOW", 45)
PORT_BASE = env_int("BENCH_PORT_BASE", 18400)
WORKLOADS = os.environ.get("BENCH_WORKLOADS", "1,2,3,4,5").split(",")
DAEMONS = os.environ.get("BENCH_DAEMONS", "vmalert,promwatch").split(",")
PROMWATCH = os.environ.get("PROMWATCH_BIN", os.path.join(ROOT, "build-bench", "promwatch"))
VMALERT = os.environ.get("VMALERT_BIN", "/usr/bin/vmalert")
VICTORIA = os.environ.get("VICTORIA_BIN", "/usr/bin/victoria-metrics")

VM_PORT = PORT_BASE + 28
DAEMON_PORT = PORT_BASE + 80
SINK_PORT = PORT_BASE + 98
FAKE_PORT = PORT_BASE + 99
TICK = os.sysconf("SC_CLK_TCK")

children = []  # Popen objects we started; all are stopped on exit


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def start(args, **kw):
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kw)
    children.append(p)
    return p


def stop(p, grace=10):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in children:
        children.remove(p)


def stop_all():
    for p in list(children):
        try:
            stop(p, 5)
        except Exception:
            pass


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def http_post(url, data, timeout=120, ctype="text/plain"):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": ctype}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def wait_http(url, deadline_s=60, proc=None, poll_s=0.2):
    end = time.time() + deadline_s
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before answering {url}")
        try:
            http_get(url, 2)
            return
        except Exception:
            time.sleep(poll_s)
    raise RuntimeError(f"{url} did not answer within {deadline_s}s")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def metric_sum(text, names):
    """Sum of every series of the first of `names` present in `text`."""
    if isinstance(names, tuple):
        for n in names:
            if re.search("^" + re.escape(n) + "[ {]", text, re.M):
                return metric_sum(text, n)
        return 0.0
    name = names
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram_buckets(text, name):
    """{le: cumulative count} of an unlabelled histogram `name` in exposition `text`."""
    out = {}
    for m in re.finditer("^" + re.escape(name) + r'_bucket\{le="([^"]+)"\} (\S+)$', text, re.M):
        out[float(m.group(1))] = float(m.group(2))
    return out


def quantile_bound(before, after, q):
    """The upper bound of the bucket holding quantile `q` of the observations between two
    scrapes (what histogram_quantile would interpolate inside), and the observation count."""
    delta = sorted((le, after.get(le, 0) - before.get(le, 0)) for le in after)
    if not delta or delta[-1][1] <= 0:
        return float("nan"), 0
    total = delta[-1][1]
    for le, count in delta:
        if count >= q * total:
            return le, total
    return float("inf"), total


# ---------------------------------------------------------------- workloads

def workload(n):
    """Rules (as neutral dicts), the data to push, the interval and the expected alert count."""
    if n in ("1", "4"):
        rules = [dict(group=f"w1_g{i // 100}", alert=f"W1Rule{i}", expr=f'bench_w1{{rule="{i}"}} > 0')
                 for i in range(1000)]
        data = "".join(f'bench_w1{{rule="{i}",job="bench",instance="host-{i}:9100"}} 1\n' for i in range(1000))
        return dict(rules=rules, data=data, metric="bench_w1", series=1000, interval=5, alerts=1000,
                    resend=(n == "4"))
    if n == "2":
        rules = [dict(group="w2", alert="W2Big", expr="bench_w2 > 0")]
        data = "".join(f'bench_w2{{job="bench",instance="host-{i}:9100",region="r{i % 7}"}} {1 + i % 97}\n'
                       for i in range(10000))
        return dict(rules=rules, data=data, metric="bench_w2", series=10000, interval=5, alerts=10000,
                    resend=False)
    if n == "3":
        rules = [dict(group=f"w3_g{i // 100}", alert=f"W3Rule{i}", expr=f'bench_w3{{rule="{i}"}} > 0')
                 for i in range(10000)]
        data = "".join(f'bench_w3{{rule="{i}",shard="{s}",job="bench"}} 1\n'
                       for i in range(10000) for s in range(10))
        return dict(rules=rules, data=data, metric="bench_w3", series=100000, interval=15, alerts=100000,
                    resend=False)
    if n == "5":
        # Workload 2's data through one recording rule: 10,000 samples written per evaluation.
        data = workload("2")["data"]
        rules = [dict(group="w5", record="bench_rw:w2:x2", expr="bench_w2 * 2")]
        return dict(rules=rules, data=data, metric="bench_w2", series=10000, interval=5, alerts=0,
                    resend=False, remote_write=True)
    raise ValueError(n)


SUMMARY = "{{ $labels.instance }} of {{ $labels.job }} is at {{ $value }}"


def groups_of(rules):
    groups = {}
    for r in rules:
        groups.setdefault(r["group"], []).append(r)
    return groups


def write_vmalert_rules(path, w):
    out = ["groups:"]
    for g, rs in groups_of(w["rules"]).items():
        out += [f"- name: {g}", f"  interval: {w['interval']}s", "  rules:"]
        for r in rs:
            if "record" in r:
                out += [f"  - record: {r['record']}", f"    expr: '{r['expr']}'", "    labels: {source: bench}"]
                continue
            out += [f"  - alert: {r['alert']}", f"    expr: '{r['expr']}'",
                    "    labels: {severity: warning}",
                    f"    annotations: {{summary: '{SUMMARY}'}}"]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_promwatch_config(dirname, w, datasource_port):
    out = []
    for g, rs in groups_of(w["rules"]).items():
        out += ["[[groups]]", f'name = "{g}"', f'interval = "{w["interval"]}s"', ""]
        for r in rs:
            if "record" in r:
                out += ["[[groups.rules]]", f'record = "{r["record"]}"', f"expr = '{r['expr']}'",
                        'labels = { source = "bench" }', ""]
                continue
            out += ["[[groups.rules]]", f'alert = "{r["alert"]}"', f"expr = '{r['expr']}'",
                    'labels = { severity = "warning" }', f"annotations = {{ summary = '{SUMMARY}' }}", ""]
    with open(os.path.join(dirname, "rules.toml"), "w") as f:
        f.write("\n".join(out))
    am = ""
    if w["resend"]:
        am = f"""
[[alertmanagers]]
url = "http://127.0.0.1:{SINK_PORT}"
resend_delay = "{w['interval']}s"
"""
    if w.get("remote_write"):
        # vmalert's defaults are the same: batches of 1,000, a queue of 100,000.
        am += f"""
[remote_write]
url = "http://127.0.0.1:{SINK_PORT}/api/v1/write"
max_samples_per_send = 1000
queue_capacity = 100000
"""
    cfg = f"""[global]
evaluation_interval = "{w['interval']}s"
rule_files = ["rules.toml"]
state_dir = "{dirname}/state"
external_url = "http://127.0.0.1:{DAEMON_PORT}"

[datasource]
url = "http://127.0.0.1:{datasource_port}"
timeout = "10s"

[server]
listen = "127.0.0.1:{DAEMON_PORT}"

[[receivers]]
name = "sink"
type = "webhook"
url = "http://127.0.0.1:{SINK_PORT}/hook"

[route]
receiver = "sink"
group_by = ["alertname"]
group_wait = "1s"
group_interval = "1m"
repeat_interval = "1h"
{am}"""
    path = os.path.join(dirname, "promwatch.toml")
    with open(path, "w") as f:
        f.write(cfg)
    return path


def start_daemon(name, w, workdir, datasource_port):
    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    logf = open(os.path.join(d, "log"), "w")
    if name == "vmalert":
        rules = os.path.join(d, "rules.yml")
        write_vmalert_rules(rules, w)
        args = [VMALERT, f"-rule={rules}", f"-datasource.url=http://127.0.0.1:{datasource_port}",
                f"-notifier.url=http://127.0.0.1:{SINK_PORT}", f"-httpListenAddr=127.0.0.1:{DAEMON_PORT}",
                f"-evaluationInterval={w['interval']}s", "-loggerLevel=ERROR",
                f"-external.url=http://127.0.0.1:{DAEMON_PORT}"]
        # vmalert re-sends every firing alert at every evaluation by default (resendDelay 0);
        # workloads 1-3 measure evaluation, so it sends once like promwatch's webhook route.
        if not w["resend"]:
            args.append("-rule.resendDelay=1h")
        if w.get("remote_write"):
            args.append(f"-remoteWrite.url=http://127.0.0.1:{SINK_PORT}")  # it appends /api/v1/write
        # Newer vmalert counts evaluations per rule; Debian's 1.79 has only the global counter.
        metric = ("vmalert_alerting_rules_evaluations_total", "vmalert_execution_total")
    else:
        cfg = write_promwatch_config(d, w, datasource_port)
        args = [PROMWATCH, "--config", cfg, "--log-level", "warn"]
        metric = ("promwatch_rule_evaluations_total",)
    p = start(args, stdout=logf, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{DAEMON_PORT}/metrics", 120, p)
    return p, metric


def sink_count():
    for attempt in range(3):
        try:
            return json.loads(http_get(f"http://127.0.0.1:{SINK_PORT}/count", 30))
        except Exception:
            if attempt == 2:
                raise
            time.sleep(1)


def measure(name, w, workdir, warmup, window, datasource_port=VM_PORT, on_window=None):
    log(f"{name}: starting ({len(w['rules'])} rules, {w['series']} series, every {w['interval']}s)")
    t0 = time.time()
    p, metric = start_daemon(name, w, workdir, datasource_port)
    try:
        time.sleep(max(0, warmup - (time.time() - t0)))
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited with {p.returncode}; see {workdir}/{name}/log")
        text0 = http_get(f"http://127.0.0.1:{DAEMON_PORT}/metrics", 30)
        m0 = metric_sum(text0, metric)
        s0 = sink_count()
        if on_window:
            on_window()
        c0 = proc_cpu(p.pid)
        t_start = time.time()
        time.sleep(window)
        c1 = proc_cpu(p.pid)
        elapsed = time.time() - t_start
        s1 = sink_count()
        text1 = http_get(f"http://127.0.0.1:{DAEMON_PORT}/metrics", 30)
        m1 = metric_sum(text1, metric)
        hwm = proc_status(p.pid, "VmHWM")
        rss = proc_status(p.pid, "VmRSS")
        anon = proc_status(p.pid, "RssAnon")
        alerts = count_alerts(name)
        r = dict(cpu=c1 - c0, elapsed=elapsed, evals=m1 - m0, hwm=hwm, rss=rss, anon=anon,
                 notif=s1["requests"] - s0["requests"], notif_bytes=s1["bytes"] - s0["bytes"], alerts=alerts,
                 rw_samples=s1["samples"] - s0["samples"])
        if name == "promwatch":
            # The scheduler's own view of its jitter (microsecond clock, bucketed).
            delay = "promwatch_group_evaluation_start_delay_seconds"
            b0, b1 = histogram_buckets(text0, delay), histogram_buckets(text1, delay)
            r["delay_p50"], r["delay_rounds"] = quantile_bound(b0, b1, 0.50)
            r["delay_p99"], _ = quantile_bound(b0, b1, 0.99)
        log(f"{name}: cpu {r['cpu']:.2f}s evals {r['evals']:.0f} hwm {hwm / 2**20:.1f}MiB "
            f"anon {anon / 2**20:.1f}MiB notifications {r['notif']} firing {alerts} "
            f"remote-write samples {r['rw_samples']}")
        return r
    finally:
        stop(p, 15)


def lifecycle(w, workdir):
    """promwatch only: start-up with workload 3's 10,000 rules, then a reload of the same rules
    while they hold 100,000 firing alerts: how long the event loop stood still, and whether
    every alert was kept."""
    d = os.path.join(workdir, "lifecycle")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cfg = write_promwatch_config(d, w, VM_PORT)
    logpath = os.path.join(d, "log")
    log(f"promwatch: start-up and reload with {len(w['rules'])} rules")
    t0 = time.time()
    p = start([PROMWATCH, "--config", cfg, "--log-level", "info"], stdout=open(logpath, "w"),
              stderr=subprocess.STDOUT)
    try:
        # Polled every 2 ms: the default 200 ms between attempts would round the figure up to it.
        wait_http(f"http://127.0.0.1:{DAEMON_PORT}/healthz", 120, p, poll_s=0.002)
        ready = time.time() - t0
        end = time.time() + 180
        while count_alerts("promwatch") < w["series"] and time.time() < end:
            time.sleep(2)
        before = count_alerts("promwatch")
        os.kill(p.pid, signal.SIGHUP)
        end = time.time() + 120
        reloaded = None
        while reloaded is None and time.time() < end:
            time.sleep(0.5)
            with open(logpath) as f:
                reloaded = re.search(r"read and compiled in (\d+) ms on the reload thread, event loop held for (\d+) ms",
                                     f.read())
        time.sleep(w["interval"] + 5)  # a full round after the reload
        after = count_alerts("promwatch")
        with open(logpath) as f:
            started = re.search(r"started in (\d+) ms", f.read())
        r = dict(ready=ready, started_ms=int(started.group(1)) if started else -1,
                 compile_ms=int(reloaded.group(1)) if reloaded else -1,
                 apply_ms=int(reloaded.group(2)) if reloaded else -1, before=before, after=after)
        log(f"promwatch: ready after {ready * 1e3:.0f} ms; reload compiled {r['compile_ms']} ms, "
            f"loop held {r['apply_ms']} ms; firing {before} -> {after}")
        return r
    finally:
        stop(p, 15)


def count_alerts(name):
    try:
        if name == "vmalert":
            body = http_get(f"http://127.0.0.1:{DAEMON_PORT}/metrics", 60)
            return int(metric_sum(body, "vmalert_alerts_firing"))
        body = http_get(f"http://127.0.0.1:{DAEMON_PORT}/metrics", 60)
        m = re.search(r'^promwatch_alerts\{[^}]*state="firing"[^}]*\} (\S+)', body, re.M)
        return int(float(m.group(1))) if m else -1
    except Exception:
        return -1


# ---------------------------------------------------------------- data

class Pusher(threading.Thread):
    """Re-imports the workload's series every 10 s (without timestamps: VictoriaMetrics stamps
    them with the current time), so instant queries always find fresh samples."""

    def __init__(self, data):
        super().__init__(daemon=True)
        self.data = data.encode()
        self.halt = threading.Event()

    def push(self):
        http_post(f"http://127.0.0.1:{VM_PORT}/api/v1/import/prometheus", self.data)

    def run(self):
        while not self.halt.wait(10):
            try:
                self.push()
            except Exception as e:
                log(f"push failed: {e}")


def load_data(w):
    pusher = Pusher(w["data"])
    pusher.push()
    q = urllib.parse.quote(f"count({w['metric']})")
    end = time.time() + 120
    while time.time() < end:
        try:
            body = json.loads(http_get(f"http://127.0.0.1:{VM_PORT}/api/v1/query?query={q}"))
            res = body["data"]["result"]
            if res and int(float(res[0]["value"][1])) >= w["series"]:
                break
        except Exception:
            pass
        time.sleep(1)
    else:
        raise RuntimeError(f"VictoriaMetrics did not show {w['series']} series of {w['metric']}")
    pusher.start()
    return pusher


# ---------------------------------------------------------------- helper servers

def snappy_uncompress(data):
    """Snappy's block format (what remote write sends), decoded: a varint length, then literals
    and back-references."""
    def varint(buf, i):
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value, i
            shift += 7
    length, i = varint(data, 0)
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        kind = tag & 3
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[i:i + extra], "little")
                i += extra
            n += 1
            out += data[i:i + n]
            i += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[i]
            i += 1
        else:
            n = (tag >> 2) + 1
            width = 2 if kind == 2 else 4
            offset = int.from_bytes(data[i:i + width], "little")
            i += width
        start = len(out) - offset
        if offset >= n:
            out += out[start:start + n]
        else:
            for k in range(n):
                out.append(out[start + k])
    if len(out) != length:
        raise ValueError("snappy: length mismatch")
    return bytes(out)


def count_write_request_samples(raw):
    """Samples in a protobuf prometheus.WriteRequest: field 2 of every TimeSeries (field 1)."""
    def fields(buf):
        i = 0
        while i < len(buf):
            key = shift = 0
            while True:
                b = buf[i]
                i += 1
                key |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            wire = key & 7
            if wire == 0:
                while buf[i] & 0x80:
                    i += 1
                i += 1
                yield key >> 3, None
            elif wire == 1:
                i += 8
                yield key >> 3, None
            elif wire == 5:
                i += 4
                yield key >> 3, None
            elif wire == 2:
                n = shift = 0
                while True:
                    b = buf[i]
                    i += 1
                    n |= (b & 0x7F) << shift
                    shift += 7
                    if b < 0x80:
                        break
                yield key >> 3, buf[i:i + n]
                i += n
            else:
                raise ValueError(f"protobuf: wire type {wire}")
    return sum(1 for f, ts in fields(raw) if f == 1 for g, _ in fields(ts) if g == 2)


def serve_sink(port):
    """Counts every request (Alertmanager v2 POSTs from vmalert and promwatch's forwarder,
    webhook POSTs from promwatch's receiver, remote-write POSTs: bytes as sent, and the samples
    in them) and answers 200 at once, keep-alive."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    lock = threading.Lock()
    counts = {"requests": 0, "bytes": 0, "samples": 0, "bad_writes": 0}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 120  # idle keep-alive connections of a stopped daemon go away

        def log_message(self, *a):
            pass

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                return self.rfile.read(n)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return b""

        def _reply(self, code, body=b""):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self._body()
            samples, bad = 0, 0
            if self.headers.get("Content-Encoding", "").lower() == "snappy":
                try:
                    samples = count_write_request_samples(snappy_uncompress(body))
                except (ValueError, IndexError):
                    bad = 1
            with lock:
                counts["requests"] += 1
                counts["bytes"] += len(body)
                counts["samples"] += samples
                counts["bad_writes"] += bad
            self._reply(400 if bad else 200)

        def do_GET(self):
            with lock:
                body = json.dumps(counts).encode()
            self._reply(200, body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 4096  # promwatch opens one connection per group at start-up

        def handle_error(self, request, client_address):
            pass  # a client that hangs up early is not our business

    Server(("127.0.0.1", port), H).serve_forever()


def serve_fakeds(port):
    """A datasource that answers every instant query with an empty vector and records, per
    distinct `time` parameter (one per group slot), the earliest arrival minus that time: the
    scheduler's evaluation start lateness (plus loopback and this server's own latency).
    GET /__reset forgets what was recorded, GET /__dump returns it."""
    import asyncio
    first = {}
    body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'

    def response(payload):
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(payload)).encode() + b"\r\n\r\n" + payload)

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.time()
                lines = head.decode("latin1").split("\r\n")
                target = lines[0].split(" ")[1]
                n = 0
                for h in lines[1:]:
                    if h.lower().startswith("content-length:"):
                        n = int(h.split(":", 1)[1])
                data = await reader.readexactly(n) if n else b""
                url = urllib.parse.urlsplit(target)
                if url.path == "/__reset":
                    first.clear()
                    writer.write(response(b"{}"))
                elif url.path == "/__dump":
                    writer.write(response(json.dumps(first).encode()))
                else:
                    params = urllib.parse.parse_qs(url.query)
                    if data:
                        params.update(urllib.parse.parse_qs(data.decode()))
                    t = params.get("time")
                    if t and t[0] not in first:
                        first[t[0]] = now - float(t[0])
                    writer.write(response(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------- report

def fmt_ratio(a, b):
    return f"{a / b:.3f}" if b else "n/a"


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "sink":
        serve_sink(int(sys.argv[2]))
        return
    if len(sys.argv) >= 3 and sys.argv[1] == "fakeds":
        serve_fakeds(int(sys.argv[2]))
        return

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    workdir = tempfile.mkdtemp(prefix="promwatch-bench.")
    results = {}
    extra = {}
    try:
        vm = start([VICTORIA, f"-storageDataPath={workdir}/vm", f"-httpListenAddr=127.0.0.1:{VM_PORT}",
                    "-retentionPeriod=1d", "-search.latencyOffset=1s", "-search.disableCache",
                    "-loggerLevel=ERROR"], stdout=subprocess.DEVNULL, stderr=open(f"{workdir}/vm.log", "w"))
        wait_http(f"http://127.0.0.1:{VM_PORT}/health", 60, vm)
        start([sys.executable, os.path.abspath(__file__), "sink", str(SINK_PORT)])
        wait_http(f"http://127.0.0.1:{SINK_PORT}/count", 30)
        for n in WORKLOADS:
            w = workload(n)
            log(f"workload {n}: loading {w['series']} series")
            pusher = load_data(w)
            try:
                warm = WARMUP_W3 if n == "3" else WARMUP
                for d in DAEMONS:
                    try:
                        results[(n, d)] = measure(d, w, workdir, warm, WINDOW)
                    except (RuntimeError, OSError, ValueError) as e:
                        log(f"workload {n}, {d}: FAILED: {e}")
                if n == "3" and "promwatch" in DAEMONS:
                    try:
                        extra["lifecycle"] = lifecycle(w, workdir)
                    except (RuntimeError, OSError, ValueError) as e:
                        log(f"start-up and reload: FAILED: {e}")
            finally:
                pusher.halt.set()
            if n == "3":
                # Baseline for memory per alert and promwatch's start jitter: the same 10,000
                # rules against a datasource that answers empty vectors (no alerts).
                fake = start([sys.executable, os.path.abspath(__file__), "fakeds", str(FAKE_PORT)])
                fake_url = f"http://127.0.0.1:{FAKE_PORT}"
                wait_http(fake_url + "/__dump", 30, fake)
                for d in DAEMONS:
                    try:
                        r = measure(d, w, workdir, WARMUP_BASE, JITTER_WINDOW, datasource_port=FAKE_PORT,
                                    on_window=lambda: http_get(fake_url + "/__reset"))
                        r["jitter"] = sorted(json.loads(http_get(fake_url + "/__dump")).values())
                        extra[d] = r
                    except (RuntimeError, OSError, ValueError) as e:
                        log(f"workload 3 baseline, {d}: FAILED: {e}")
                stop(fake)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    print_table(results, extra)
    return 0


def pct(xs, p):
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def print_table(results, extra):
    names = {"1": "1: 1,000 rules x 1 series, 5s", "2": "2: 1 rule x 10,000 series, 5s",
             "3": "3: 10,000 rules, 100,000 alerts, 15s", "4": "4: as 1, re-sent every evaluation",
             "5": "5: 1 recording rule x 10,000 series -> remote write, 5s"}
    vm, pw = "vmalert", "promwatch"
    print(f"\nwindow {WINDOW}s per daemon per workload (after warm-up {WARMUP}s, w3 {WARMUP_W3}s; baseline {WARMUP_BASE}s + {JITTER_WINDOW}s); "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu_model()}, {os.cpu_count()} CPUs\n")
    print("| workload | daemon | CPU s | evals | CPU ms / 1k evals | peak RSS MiB | RssAnon MiB | notifications (req) | firing |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in WORKLOADS:
        for d in DAEMONS:
            r = results.get((n, d))
            if not r:
                continue
            per = 1e6 * r["cpu"] / r["evals"] if r["evals"] else float("nan")
            print(f"| {names[n]} | {d} | {r['cpu']:.2f} | {r['evals']:.0f} | {per:.1f} | "
                  f"{r['hwm'] / 2**20:.1f} | {r['anon'] / 2**20:.1f} | {r['notif']} | {r['alerts']} |")
    print("\n| workload | CPU ratio pw/vm | CPU per eval ratio | peak RSS ratio | RssAnon ratio | target |")
    print("|---|---:|---:|---:|---:|---|")
    for n in WORKLOADS:
        a, b = results.get((n, pw)), results.get((n, vm))
        if not a or not b:
            continue
        pe = (a["cpu"] / a["evals"]) / (b["cpu"] / b["evals"]) if a["evals"] and b["evals"] and b["cpu"] else float("nan")
        ok = a["cpu"] <= b["cpu"] / 10 and a["hwm"] <= b["hwm"] / 2
        print(f"| {names[n]} | {fmt_ratio(a['cpu'], b['cpu'])} | {pe:.3f} | {fmt_ratio(a['hwm'], b['hwm'])} | "
              f"{fmt_ratio(a['anon'], b['anon'])} | {'met' if ok else 'MISSED'} (CPU <= 0.1, RSS <= 0.5) |")
    rw = [(d, results[("5", d)]) for d in DAEMONS if ("5", d) in results]
    if rw:
        print("\nworkload 5, remote write of a recording rule's results (the sink decodes every request):\n")
        print("| daemon | samples written | requests | bytes on the wire | CPU s | CPU ms / 10k samples | bytes / 10k samples |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for d, r in rw:
            n = r["rw_samples"]
            cpu = f"{1e4 * 1e3 * r['cpu'] / n:.1f}" if n else "n/a"
            size = f"{1e4 * r['notif_bytes'] / n:.0f}" if n else "n/a"
            print(f"| {d} | {n} | {r['notif']} | {r['notif_bytes']} | {r['cpu']:.2f} | {cpu} | {size} |")
    if extra:
        print("\nworkload 3 baseline (same 10,000 rules, datasource answering empty vectors):\n")
        print("| daemon | peak RSS MiB, no alerts | bytes per active alert (peak RSS) | (RssAnon) | eval start lateness p50 / p99 / max ms (slots) |")
        print("|---|---:|---:|---:|---|")
        for d in DAEMONS:
            e, r = extra.get(d), results.get(("3", d))
            if not e:
                continue
            per_alert = (r["hwm"] - e["hwm"]) / 100000 if r else float("nan")
            per_alert_anon = (r["anon"] - e["anon"]) / 100000 if r else float("nan")
            j = e["jitter"]
            js = (f"{1e3 * pct(j, 50):.1f} / {1e3 * pct(j, 99):.1f} / {1e3 * j[-1]:.1f} ({len(j)})"
                  if j else "n/a")
            print(f"| {d} | {e['hwm'] / 2**20:.1f} | {per_alert:.0f} | {per_alert_anon:.0f} | {js} |")
        e = extra.get("promwatch")
        if e and "delay_p99" in e:
            print(f"\npromwatch's own `promwatch_group_evaluation_start_delay_seconds` over the baseline window: "
                  f"p50 <= {1e3 * e['delay_p50']:g} ms, p99 <= {1e3 * e['delay_p99']:g} ms "
                  f"({e['delay_rounds']:.0f} rounds; bucket upper bounds)")
    lc = extra.get("lifecycle")
    if lc:
        print("\npromwatch start-up and reload, workload 3's 10,000 rules:\n")
        print("| /healthz answers after exec | start-up (log: compile to loop running) | reload: read + compile (own thread) | reload: event loop held | firing before -> after reload |")
        print("|---:|---:|---:|---:|---|")
        print(f"| {lc['ready'] * 1e3:.0f} ms | {lc['started_ms']} ms | {lc['compile_ms']} ms | {lc['apply_ms']} ms | "
              f"{lc['before']} -> {lc['after']} |")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except Exception:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main() or 0)
