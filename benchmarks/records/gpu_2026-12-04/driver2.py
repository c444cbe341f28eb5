"""Run the GPU queue as parallel jobs under one deadline; tar what they wrote."""
import os, subprocess, sys, time, shlex, json

SMOKE = os.environ.get("SMOKE") == "1"
T0 = time.time()
BUDGET = float(os.environ.get("BUDGET", "420"))
SLOTS = int(os.environ.get("SLOTS", "13"))
ROOT = os.path.abspath(os.path.dirname(__file__))
OUTD = os.path.join(ROOT, "out")
os.makedirs(os.path.join(OUTD, "logs"), exist_ok=True)
PY = sys.executable
dev = "cpu" if SMOKE else "cuda"

def sz(full, small):
    return small if SMOKE else full

jobs = []  # (name, argv, cpus)
jobs.append(("test_cuda", [PY, "-m", "pytest", "tests/test_cuda.py", "-q", "-p", "no:cacheprovider", "-n", "3", "-rA"] if not SMOKE else [PY, "-c", "print('skip')"], None))
for s in (0, 1, 2):
    for m in ("SemanticKL (lr=1e-3)", "SemanticKL (old defaults)"):
        tag = "lr" if "lr" in m else "old"
        jobs.append((f"moon_{tag}_{s}", [PY, "benchmarks/bench_semantic.py", "--dataset", "fashion", "--database", "all", "--n-train", sz("60000", "500"), "--n-query", sz("1000", "100"), "--hidden", "1024", "--epochs", sz("10", "1"), "--bits", "32", "--seeds", str(s), "--backbone", "cnn", "--device", dev, "--methods", m, "--out", f"{OUTD}/moon_{tag}_{s}/r"], None))
for s in (0, 1, 2):
    jobs.append((f"zs_{s}", [PY, "benchmarks/bench_zero_shot.py", "--dataset", "fashion", "--backbone", "cnn", "--device", dev, "--n-train", sz("10000", "800"), "--epochs", sz("15", "1"), "--bits", "32", "--seeds", str(s), "--n-query-per-class", sz("100", "20"), "--methods", "SemanticKL (hierarchy, zero-shot)", "SemanticKL (class embeddings, zero-shot)", "SemanticKL (hierarchy)", "CSQ", "HashNet", "ITQ", "--cache", os.path.join(ROOT, "cache"), "--out", f"{OUTD}/zs_{s}"], None))
for s in (0, 1, 2):
    jobs.append((f"base10k_{s}", [PY, "benchmarks/bench_semantic.py", "--dataset", "fashion", "--database", "train", "--n-train", sz("10000", "500"), "--n-query", sz("1000", "100"), "--hidden", "512", "--epochs", sz("20", "1"), "--bits", "16", "32", "64", "--seeds", str(s), "--backbone", "cnn", "--device", dev, "--methods", "CSQ", "HashNet", "--out", f"{OUTD}/base10k_{s}/r"], None))
    jobs.append((f"lr10k_{s}", [PY, "benchmarks/bench_semantic.py", "--dataset", "fashion", "--database", "train", "--n-train", sz("10000", "500"), "--n-query", sz("1000", "100"), "--hidden", "512", "--epochs", sz("20", "1"), "--bits", "16", "32", "64", "--seeds", str(s), "--backbone", "cnn", "--device", dev, "--methods", "SemanticKL (lr=1e-3)", "SemanticKL (hierarchy, lr=1e-3)", "--out", f"{OUTD}/lr10k_{s}/r"], None))
for b in (32, 64):
    jobs.append((f"cib_{b}_0", [PY, "benchmarks/bench_unsupervised.py", "--data", "fashion", "--n-train", sz("60000", "600"), "--n-db", sz("60000", "600"), "--n-query", sz("1000", "100"), "--bits", str(b), "--seeds", "0", "--max-epochs", sz("12", "1"), "--warmup-epochs", sz("5", "0"), "--batch-size", "256", "--device", dev, "--methods", "CIBHash", "--out", f"{OUTD}/cib_{b}_0"], None))
only = os.environ.get("ONLY")
if only:
    jobs = [j for j in jobs if j[0].startswith(tuple(only.split(",")))]

env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
running = {}
def start(name, argv, cpus):
    remaining = int(BUDGET - (time.time() - T0))
    if remaining < 20:
        print(f"[{time.time()-T0:6.1f}] skip {name}: {remaining}s left", flush=True); return
    pre = ["timeout", "-k", "5", str(remaining)]
    if cpus:
        pre += ["taskset", "-c", cpus]
    elif not SMOKE:
        pre += ["taskset", "-c", "0-15"]
    log = open(os.path.join(OUTD, "logs", name + ".log"), "w")
    p = subprocess.Popen(pre + argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    running[name] = (p, time.time())
    print(f"[{time.time()-T0:6.1f}] start {name} (limit {remaining}s)", flush=True)

queue = list(jobs)
while queue or running:
    while queue and sum(1 for n in running if n != "dask") < SLOTS:
        start(*queue.pop(0))
    time.sleep(1)
    for name, (p, t) in list(running.items()):
        if p.poll() is not None:
            print(f"[{time.time()-T0:6.1f}] done {name} rc={p.returncode} in {time.time()-t:.0f}s", flush=True)
            del running[name]
for name in sorted(os.listdir(os.path.join(OUTD, "logs"))):
    txt = open(os.path.join(OUTD, "logs", name)).read()
    print(f"===== {name}: {txt[-600:]}")
