#!/usr/bin/python3
"""`ameir bench` from the outside: --help, a short run (last line "samples/s: N", --json
as the line after it), and bad usage / bad input with exit code 2 and a message naming
the problem. Needs AMEIR_EXE and AMEIR_SOURCE_ROOT (meson's test_env)."""
import json
import os
import subprocess
import sys
import tempfile

EXE = os.environ["AMEIR_EXE"]
ROOT = os.environ["AMEIR_SOURCE_ROOT"]
ARCH = os.path.join(ROOT, "configs", "archs", "product-example.json")
failures = 0


def run(*args):
    p = subprocess.run([EXE, "bench", *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def check(cond, what, detail=""):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}\n{detail}", file=sys.stderr)


def expect_error(args, needle, code=2):
    rc, out, err = run(*args)
    check(rc == code, f"bench {' '.join(args)}: exit code {rc}, expected {code}", err)
    check(needle in err, f"bench {' '.join(args)}: stderr lacks {needle!r}", err)


rc, out, err = run("--help")
check(rc == 0 and "--arch FILE" in out and "--threads" in out, "--help", out + err)

small = ["--arch", ARCH, "--batch", "16", "--seq", "10", "--steps", "3", "--warmup", "1"]
for threads in ("1", "2"):
    rc, out, err = run(*small, "--threads", threads, "--json")
    lines = out.strip().splitlines()
    check(rc == 0, f"short run, {threads} threads: exit code {rc}", err)
    if rc == 0:
        check(lines[-2].startswith("samples/s: ") and float(lines[-2].split()[1]) > 0, "samples/s line", out)
        j = json.loads(lines[-1])
        check(j["samples_per_s"] > 0 and j["batch"] == 16 and j["threads"] == int(threads), "JSON line", out)
rc, out, err = run(*small)
check(rc == 0 and out.strip().splitlines()[-1].startswith("samples/s: "), "last line without --json", out)
rc, out, err = run("--arch", ARCH, "--batch", "8", "--seq", "0", "--steps", "2", "--warmup", "0")
check(rc == 0, "no behaviour sequence (--seq 0)", err)

expect_error([], "--arch")
expect_error(["--arch", ARCH, "--batch", "0"], "--batch")
expect_error(["--arch", ARCH, "--steps", "many"], "--steps")
expect_error(["--arch", ARCH, "--threads", "0"], "--threads")
expect_error(["--arch", ARCH, "--bogus", "1"], "--bogus")
expect_error(["--arch", os.path.join(ROOT, "no-such-arch.json")], "no-such-arch.json")
with tempfile.TemporaryDirectory() as d:
    bad = os.path.join(d, "bad.json")
    with open(bad, "w") as f:
        f.write('{"behavior": {"blocks": [{"op": "attention", "heads": 8}]}}')
    # 8 heads do not divide d = 12
    expect_error(["--arch", bad, "--dim", "12", "--steps", "1"], "heads")
    with open(bad, "w") as f:
        f.write('{"interactions": [["user", "colour"]]}')
    expect_error(["--arch", bad, "--steps", "1"], "colour")
    with open(bad, "w") as f:
        f.write('{"mlp": {"layers": [')
    expect_error(["--arch", bad], "bad.json")

print("bench cli: " + ("all checks passed" if failures == 0 else f"{failures} checks failed"))
sys.exit(1 if failures else 0)
