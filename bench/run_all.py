"""Run every benchmark in bench/ and print one summary table.

    python bench/run_all.py            # what `make bench` runs
    python bench/run_all.py --quick    # 1M-row batch, fewer rounds (a smoke test)

The C++ benchmarks are the `*_bench` programs of the CMake build (default
build/py, set ZEPTO_BENCH_DIR to use another); the Python ones are the
bench_*.py scripts next to this file. Each benchmark prints its own figures,
baseline and ratio; this script collects their `RESULT` lines. The exit status
is 1 if a benchmark failed to run (a MISS against a target is reported, not an
error).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULT = re.compile(r"^RESULT (\S+) (.*?) (PASS|MISS)$")


def run(cmd: list[str], label: str) -> tuple[list[tuple[str, dict, str]], bool]:
    print(f"=== {label}: {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    found = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        m = RESULT.match(line.strip())
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(2).split() if "=" in kv)
            found.append((m.group(1), fields, m.group(3)))
    ok = proc.wait() == 0
    if not ok:
        print(f"=== {label} FAILED (exit status {proc.returncode})")
    print(flush=True)
    return found, ok


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model or platform.machine()}), {platform.system()} {platform.release()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and few rounds")
    args = ap.parse_args()

    bench_dir = Path(os.environ.get("ZEPTO_BENCH_DIR", ROOT / "build" / "py"))
    results, failed = [], []
    programs = sorted(p for p in bench_dir.glob("*_bench") if os.access(p, os.X_OK))
    if not programs:
        print(f"no C++ benchmarks in {bench_dir}; build them with `make build`")
        failed.append("C++ benchmarks (not built)")
    for prog in programs:
        cmd = [str(prog)] + (["--benchmark_repetitions=2"] if args.quick else [])
        found, ok = run(cmd, prog.name)
        results += found
        if not ok:
            failed.append(prog.name)
    for script in sorted(HERE.glob("bench_*.py")):
        cmd = [sys.executable, str(script)] + (["--rows", "1000000", "--rounds", "3"] if args.quick else [])
        found, ok = run(cmd, script.name)
        results += found
        if not ok:
            failed.append(script.name)

    print(f"Summary ({machine()}; ratios are against a baseline measured in the same run)")
    print(f"  {'benchmark':<16} {'figure':>22} {'baseline':>14} {'ratio':>8} {'target':>16}  result")
    for name, f, verdict in results:
        print(f"  {name:<16} {float(f['value']):>12.4g} {f['unit']:<9} {float(f['baseline']):>14.4g} "
              f"{float(f['ratio']):>8.3f} {f['target']:>16}  {verdict}")
    for name in failed:
        print(f"  {name:<16} FAILED")
    misses = sum(1 for *_, v in results if v == "MISS")
    print(f"{len(results) - misses} of {len(results)} targets met" + (f"; {len(failed)} failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
