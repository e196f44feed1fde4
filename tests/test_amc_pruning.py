"""examples/amc_pruning.py --quick: the agent's design meets the budget, is a real pruned
compile, and the FLOPs comparison is printed."""
import re
import subprocess
import sys


def test_amc_pruning_quick():
    p = subprocess.run([sys.executable, "examples/amc_pruning.py", "--quick"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    budget = int(re.search(r"budget ii <= (\d+)", p.stdout).group(1))
    rows = {m.group(1).strip(): m for m in re.finditer(
        r"^(unpruned|FLOPs-driven \(uniform\)|CEM agent)\s+\((\d+), (\d+)\)\s+([\d,]+)\s+(\d+)\s+([\d.]+)\s+[\d,]+\s+\d+\s+"
        r"([\d.]+)$", p.stdout, re.M)}
    assert set(rows) == {"unpruned", "FLOPs-driven (uniform)", "CEM agent"}, p.stdout
    agent, full = rows["CEM agent"], rows["unpruned"]
    assert int(agent.group(5)) <= budget < int(full.group(5))            # within the II budget, unlike the full one
    assert int(agent.group(2)) < int(full.group(2))                       # channels really removed
    assert float(agent.group(7)) >= float(rows["FLOPs-driven (uniform)"].group(7))   # no worse than the heuristic
    assert "pairs where fewer MACs came with" in p.stdout
