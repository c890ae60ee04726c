#!/usr/bin/env python3
"""`make bench`: sharetoken against what people run instead, in one run.

Starts everything on loopback itself (Redis, s3s-fs, nginx, two sharetoken
instances), loads each contender with wrk at the same concurrency and
duration, and writes BENCHMARKS.md. Bounded: about five minutes of load, after
the release build (about five more on a fresh clone of this 2-core machine).

Contenders
- local files: nginx `secure_link` over a directory  vs  sharetoken's
  `local` connector on the same directory (embedded store);
- through S3: nginx `secure_link` + `proxy_pass` (upstream keepalive)  vs
  sharetoken's `s3` connector (Redis store), both in front of the same fast
  backend (nginx serving the bucket directory the way S3 answers GET and
  HEAD), plus a direct GET to that backend (the ceiling);
- mint: tokens/s through the HTTP API (embedded store, Redis) against the
  server's trivial endpoint (GET /healthz);
- memory: sharetoken's peak resident memory during 100 concurrent 10 MiB
  downloads.

Numbers are whatever they are; nothing here asserts a timing.
"""

import base64
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("BENCH_DURATION", "4s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
SIZES = [("1 KiB", "1k.bin", 1024), ("64 KiB", "64k.bin", 64 * 1024), ("10 MiB", "10m.bin", 10 * 1024 * 1024)]
SECURE_LINK_SECRET = "bench-secret"
CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret-value"
S3_KEY, S3_SECRET = "bench-access", "bench-secret-key-0123456789"
BUCKET = "bench"

processes = []


def log(message):
    print(f"[bench] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, log_file=None, **kwargs):
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    processes.append(process)
    return process


def wait_for(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def ensure_tools():
    missing = [tool for tool in ("nginx", "wrk", "redis-server") if not shutil.which(tool)]
    if missing:
        log(f"installing {', '.join(missing)} from Debian's packages")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        packages = {"nginx": "nginx", "wrk": "wrk", "redis-server": "redis-server"}
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + [packages[t] for t in missing], check=True)
    if not shutil.which("s3s-fs"):
        subprocess.run(["cargo", "install", "--locked", "s3s-fs@0.14.1", "--features", "binary"], check=True)


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.read()


def secure_link(path, expires):
    """nginx secure_link_md5 "$secure_link_expires$uri <secret>"."""
    digest = hashlib.md5(f"{expires}{path} {SECURE_LINK_SECRET}".encode()).digest()
    md5 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"{path}?md5={md5}&expires={expires}"


NGINX_CONF = """
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;

    # The fast S3-like backend: the bucket directory, as S3 answers GET and
    # HEAD (ETag, Last-Modified, Content-Length, Range).
    server {{
        listen 127.0.0.1:{backend};
        root {work}/s3root;
        location / {{ }}
    }}

    # secure_link in front of files.
    server {{
        listen 127.0.0.1:{local};
        location /s/ {{
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri {secret}";
            if ($secure_link = "") {{ return 403; }}
            if ($secure_link = "0") {{ return 410; }}
            alias {work}/files/;
        }}
    }}

    # secure_link + proxy_pass in front of the backend.
    upstream backend {{
        server 127.0.0.1:{backend};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{proxy};
        location /s/ {{
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri {secret}";
            if ($secure_link = "") {{ return 403; }}
            if ($secure_link = "0") {{ return 410; }}
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend/{bucket}/;
        }}
    }}
}}
"""

SHARETOKEN_CONF = """
[server]
listen = "127.0.0.1:{port}"
data_dir = "{data}"
demo_client = false

[tokens]
keys = ["{key}"]

[store]
kind = "{store}"
[store.redis]
url = "redis://127.0.0.1:{redis}"
key_prefix = "bench"

[[clients]]
id = "{client}"
secret_hash = "{hash}"
roles = ["share", "admin"]
connectors = ["*"]

{connector}
"""


def cpu_ticks(pids):
    """User + system CPU time of these processes, in clock ticks."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def nginx_workers(work):
    master = Path(work / "nginx.pid").read_text().strip()
    return [int(p) for p in subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout.split()]


def wrk(url, script=None, connections=CONNECTIONS, duration=DURATION, pids=None):
    """Runs wrk; returns requests/s, MB/s, p50 ms, p99 ms, errors, and the
    CPU time the server's processes (`pids`) spent per request."""
    lua = ROOT / "benches" / "wrk-report.lua"
    args = ["wrk", "-t", str(THREADS), "-c", str(connections), "-d", duration, "--latency", "-s", str(script or lua), url]
    before = cpu_ticks(pids or [])
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    spent = cpu_ticks(pids or []) - before
    line = next(l for l in output.splitlines() if l.startswith("RESULT"))
    _, requests, total_bytes, seconds, p50, p99, errors = line.split()
    seconds = float(seconds)
    return {
        "cpu_us": spent * 1e6 / os.sysconf("SC_CLK_TCK") / int(requests) if pids and int(requests) else None,
        "rps": int(requests) / seconds,
        "mbps": int(total_bytes) / seconds / 1e6,
        "p50": float(p50),
        "p99": float(p99),
        "errors": int(errors),
    }


def memory_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def stop_on_sigterm(signum, frame):
    # `kill PID` (or a background run, where Ctrl-C is ignored) stops the
    # contenders too, through main's cleanup.
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    ensure_tools()
    log("building sharetoken in release mode")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "sharetoken"
    work = Path(tempfile.mkdtemp(prefix="sharetoken-bench-"))
    work.chmod(0o755)  # nginx's workers run as another user
    try:
        run(binary, work)
    finally:
        for process in processes:
            process.send_signal(signal.SIGKILL)
        if (work / "nginx.pid").exists():
            subprocess.run(["nginx", "-c", str(work / "nginx.conf"), "-s", "stop"], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def run(binary, work):
    files = work / "files"
    bucket = work / "s3root" / BUCKET
    files.mkdir(parents=True)
    bucket.mkdir(parents=True)
    for _, name, size in SIZES:
        data = os.urandom(size)
        (files / name).write_bytes(data)
        (bucket / name).write_bytes(data)

    ports = {name: free_port() for name in ("redis", "s3s", "backend", "local", "proxy", "embedded", "redis_st")}
    start(["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    start(["s3s-fs", "--host", "127.0.0.1", "--port", str(ports["s3s"]), "--access-key", S3_KEY, "--secret-key", S3_SECRET, str(work / "s3root")])
    conf = NGINX_CONF.format(work=work, backend=ports["backend"], local=ports["local"], proxy=ports["proxy"], secret=SECURE_LINK_SECRET, bucket=BUCKET)
    (work / "nginx.conf").write_text(conf)
    subprocess.run(["nginx", "-c", str(work / "nginx.conf")], check=True)

    key = subprocess.run([binary, "keygen"], capture_output=True, text=True, check=True).stdout.strip()
    secret_hash = subprocess.run([binary, "hash-secret"], input=CLIENT_SECRET, capture_output=True, text=True, check=True).stdout.strip()
    instances = {}
    for name, store, connector in [
        ("embedded", "embedded", f'[[connectors]]\ntype = "objectstorageproxy"\nname = "files"\nbackend = "local"\nroot = "{files}"\n'),
        ("redis_st", "redis", f'[[connectors]]\ntype = "minio"\nname = "bench"\nbackend = "s3"\nendpoint = "http://127.0.0.1:{ports["backend"]}"\nregion = "us-east-1"\nbucket = "{BUCKET}"\naccess_key_id = "{S3_KEY}"\nsecret_access_key = "{S3_SECRET}"\nallow_http = true\n'),
    ]:
        config = work / f"{name}.toml"
        config.write_text(SHARETOKEN_CONF.format(port=ports[name], data=work / f"data-{name}", key=key, store=store, redis=ports["redis"], client=CLIENT_ID, hash=secret_hash, connector=connector))
        process = start([binary, "--config", str(config), "serve"], log_file=work / f"{name}.log", env={**os.environ, "RUST_LOG": "warn"})
        instances[name] = (process, f"http://127.0.0.1:{ports[name]}")
    for _, base in instances.values():
        wait_for(f"{base}/healthz")
    wait_for(f"http://127.0.0.1:{ports['backend']}/{BUCKET}/1k.bin")

    def access_token(base):
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).encode()
        return json.loads(request("POST", f"{base}/baas/auth/v1.0/oauth2/token", form))["access_token"]

    def share(base, connector):
        body = json.dumps({"shareType": 1, "key": "/", "timeoutInMinutes": 60}).encode()
        answer = request("POST", f"{base}/u-route/baas/sys/v1.1/connectors/{connector}/sharetoken", body, {"access-token": access_token(base)})
        return json.loads(answer)["result"]["shareToken"]

    def view_url(base, token, name):
        return f"{base}/u-route/baas/sys/v1.1/objectstorage/viewshareobject?object={name}&shareToken={urllib.parse.quote(token)}"

    embedded_base = instances["embedded"][1]
    redis_base = instances["redis_st"][1]
    local_token = share(embedded_base, "objectstorageproxy/files")
    s3_token = share(redis_base, "minio/bench")
    expires = int(time.time()) + 3600

    # object_store must accept the fast backend's answers: same bytes as on disk.
    for _, name, size in SIZES:
        try:
            got = request("GET", view_url(redis_base, s3_token, name))
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{name}: {e} {e.read()}\n" + (work / "redis_st.log").read_text())
        assert got == (bucket / name).read_bytes(), f"the nginx backend's {name} came back different"
        got = request("GET", f"http://127.0.0.1:{ports['local']}" + secure_link(f"/s/{name}", expires))
        assert got == (files / name).read_bytes()
    log("all contenders serve identical bytes")
    if os.environ.get("BENCH_SERVE"):
        serve_for_profiling(work, instances, {
            "local 1 KiB view": view_url(embedded_base, local_token, "1k.bin"),
            "s3 1 KiB view": view_url(redis_base, s3_token, "1k.bin"),
            "nginx local 1 KiB": f"http://127.0.0.1:{ports['local']}" + secure_link("/s/1k.bin", expires),
            "nginx proxy 1 KiB": f"http://127.0.0.1:{ports['proxy']}" + secure_link("/s/1k.bin", expires),
        }, access_token)
        return

    results = []
    for label, name, _ in SIZES:
        # CPU per request is counted where the server's work is its own:
        # nginx's workers on local files (the S3 rows' nginx also serves
        # the backend), sharetoken's process everywhere.
        nginx = nginx_workers(work)
        embedded_pid, redis_pid = [instances[n][0].pid for n in ("embedded", "redis_st")]
        scenario = [
            ("local files", label, "nginx secure_link", f"http://127.0.0.1:{ports['local']}" + secure_link(f"/s/{name}", expires), nginx),
            ("local files", label, "sharetoken (local, embedded store)", view_url(embedded_base, local_token, name), [embedded_pid]),
            ("through S3", label, "nginx secure_link + proxy_pass", f"http://127.0.0.1:{ports['proxy']}" + secure_link(f"/s/{name}", expires), None),
            ("through S3", label, "sharetoken (s3, Redis store)", view_url(redis_base, s3_token, name), [redis_pid]),
            ("through S3", label, "direct backend GET (ceiling)", f"http://127.0.0.1:{ports['backend']}/{BUCKET}/{name}", None),
        ]
        for group, size, contender, url, pids in scenario:
            log(f"{group} {size}: {contender}")
            results.append((group, size, contender, wrk(url, pids=pids)))

    mint_lua = work / "mint.lua"
    for store, base, connector in [("embedded store", embedded_base, "objectstorageproxy/files"), ("Redis store", redis_base, "minio/bench")]:
        mint_lua.write_text(
            'wrk.method = "POST"\n'
            f'wrk.headers["access-token"] = "{access_token(base)}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            'wrk.body = \'{"shareType":0,"key":"1k.bin","timeoutInMinutes":5}\'\n'
            + (ROOT / "benches" / "wrk-report.lua").read_text()
        )
        log(f"mint: {store}")
        pid = instances["embedded" if base == embedded_base else "redis_st"][0].pid
        results.append(("mint", "-", f"mint, {store}", wrk(f"{base}/u-route/baas/sys/v1.1/connectors/{connector}/sharetoken", script=mint_lua, pids=[pid])))
        log(f"mint: trivial endpoint ({store} instance)")
        results.append(("mint", "-", f"GET /healthz, {store} instance (ceiling)", wrk(f"{base}/healthz", pids=[pid])))

    memory = {}
    for name, base, token in [("embedded", embedded_base, local_token), ("redis_st", redis_base, s3_token)]:
        pid = instances[name][0].pid
        idle = memory_kib(pid, "VmRSS")
        log(f"memory: 100 concurrent 10 MiB downloads ({name})")
        peak = {"kib": idle}
        sampler_stop = time.time() + 10
        load = subprocess.Popen(["wrk", "-t", "2", "-c", "100", "-d", "8s", "-s", str(ROOT / "benches" / "wrk-report.lua"), view_url(base, token, "10m.bin")], stdout=subprocess.PIPE, text=True)
        while load.poll() is None and time.time() < sampler_stop:
            peak["kib"] = max(peak["kib"], memory_kib(pid, "VmRSS"))
            time.sleep(0.05)
        load.wait()
        memory[name] = (idle, peak["kib"])

    write_report(results, memory)


def serve_for_profiling(work, instances, urls, access_token):
    """`BENCH_SERVE=1`: everything stays up for a profiler (perf, callgrind)
    until Ctrl-C; prints what to load and which processes to attach to."""
    mint_lua = work / "mint.lua"
    mint_lua.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["access-token"] = "{access_token(instances["redis_st"][1])}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.body = \'{"shareType":0,"key":"1k.bin","timeoutInMinutes":5}\'\n'
    )
    log(f"embedded instance pid {instances['embedded'][0].pid}, Redis instance pid {instances['redis_st'][0].pid}")
    for label, url in urls.items():
        log(f"{label}: wrk -t2 -c32 -d10s '{url}'")
    log(f"mint (Redis):     wrk -t2 -c32 -d10s -s {mint_lua} {instances['redis_st'][1]}/u-route/baas/sys/v1.1/connectors/minio/bench/sharetoken")
    log("Ctrl-C (or kill the bench's pid) to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def ratio(results, size, numerator, denominator):
    by = {(r[1], r[2]): r[3] for r in results}
    a, b = by.get((size, numerator)), by.get((size, denominator))
    return a["rps"] / b["rps"] if a and b and b["rps"] else float("nan")


def write_report(results, memory):
    cpu = platform.processor() or platform.machine()
    mem_total = next((l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")), "?")
    lines = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`python3 benches/bench.py`); every figure below comes",
        "from one run on one machine. Nothing in the test suite asserts a timing.",
        "",
        f"- machine: {os.cpu_count()} cores ({cpu}), {int(mem_total) // 1024} MiB memory, {platform.system()} {platform.release()}",
        f"- load: wrk, {THREADS} threads, {CONNECTIONS} connections, {DURATION} per contender, keep-alive, loopback",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "CPU µs/request: user + system time of the server's own processes per",
        "request (sharetoken's process; nginx's workers on local files), a figure",
        "that depends less on how the two cores were shared than requests/s.",
        "",
        "| scenario | size | contender | requests/s | MB/s | p50 ms | p99 ms | errors | CPU µs/request |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group, size, contender, r in results:
        cpu = f"{r['cpu_us']:.1f}" if r.get("cpu_us") is not None else "-"
        lines.append(f"| {group} | {size} | {contender} | {r['rps']:.0f} | {r['mbps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {cpu} |")
    lines += ["", "## Ratios (requests/s)", "", "| ratio | 1 KiB | 64 KiB | 10 MiB | target |", "| --- | ---: | ---: | ---: | --- |"]
    pairs = [
        ("sharetoken local / nginx secure_link", "sharetoken (local, embedded store)", "nginx secure_link", "≥ 1.0 (1 KiB), ≥ 0.8 (10 MiB)"),
        ("sharetoken s3 / nginx secure_link + proxy_pass", "sharetoken (s3, Redis store)", "nginx secure_link + proxy_pass", "≥ 1.0 (1 KiB)"),
        ("sharetoken s3 / direct backend (ceiling)", "sharetoken (s3, Redis store)", "direct backend GET (ceiling)", "≥ 0.9 (10 MiB)"),
    ]
    for label, a, b, target in pairs:
        cells = " | ".join(f"{ratio(results, size, a, b):.2f}" for size, _, _ in [(s[0], 0, 0) for s in SIZES])
        lines.append(f"| {label} | {cells} | {target} |")
    by = {r[2]: r[3] for r in results if r[0] == "mint"}
    for store in ("embedded store", "Redis store"):
        mint, ceiling = by[f"mint, {store}"], by[f"GET /healthz, {store} instance (ceiling)"]
        lines.append(f"| mint / trivial endpoint, {store} | {mint['rps'] / ceiling['rps']:.2f} | | | ≥ 0.5 (Redis) |")
    lines += ["", "## Memory: 100 concurrent 10 MiB downloads", "", "| instance | idle RSS MiB | peak RSS MiB | target |", "| --- | ---: | ---: | --- |"]
    for name, label in [("embedded", "local connector, embedded store"), ("redis_st", "s3 connector, Redis store")]:
        idle, peak = memory[name]
        lines.append(f"| {label} | {idle / 1024:.1f} | {peak / 1024:.1f} | ≤ 64 MiB |")
    micro = ROOT / "target" / "micro-bench.txt"
    if micro.exists():
        lines += ["", "## Micro-benchmarks (criterion, `cargo bench --bench micro`)", "", "| what | median |", "| --- | ---: |"]
        previous = ""
        for line in micro.read_text().splitlines():
            if "time:" in line:
                name = line.split("time:")[0].strip() or previous
                median = line.split("[")[1].split("]")[0].split()
                lines.append(f"| {name} | {median[2]} {median[3]} |")
            elif line.strip() and not line.startswith(("Benchmarking", "Found", "  ", "change:", "Performance", "No change")):
                previous = line.strip()
    load = ROOT / "target" / "load-report.md"
    if load.exists():
        lines += ["", "## Mixed load (`make test`: `tests/load.rs`, debug build, pass/fail test)", "",
                  load.read_text().strip()]
    notes = ROOT / "benches" / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    log("wrote BENCHMARKS.md")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
