"""The load benchmark's command (`benchmarks/load.py`, `make benchmark-load`) on the shared product:
a few shoppers' real flows, every reply checked and every conversation's history read back.
The figures are the benchmark's business; this checks that the command measures and checks."""
import subprocess
import sys

from bot.config import PROJECT_DIR


def test_the_load_benchmark_drives_a_running_product_and_finds_every_message_in_order(product):
    _, ports, _ = product
    result = subprocess.run(
        [sys.executable, "benchmarks/load.py", "--setups", "running", "--web-url", f"http://127.0.0.1:{ports['WEB_PORT']}",
         "--shoppers", "3", "--messages", "6", "--rounds", "2", "--time-limit", "120"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("| running |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1].startswith("3 x 6, 2 rounds (36 sent")  # each round's shoppers anew
    assert float(cells[2]) > 0  # messages a second
    assert 0 < float(cells[3]) <= float(cells[4]) <= float(cells[5])  # p50 <= p95 <= p99
    assert cells[7] == "0 / 0 / 0 / 0"  # lost / wrong / out of order / unfinished
    # What the p95 is made of: the slowest messages, by their median, slowest first.
    slowest = next(line for line in result.stdout.splitlines() if line.startswith("slowest messages, running x3"))
    medians = [float(part.rsplit(" ", 1)[1]) for part in slowest.split("(median ms): ", 1)[1].split("; ")]
    assert len(medians) == 5 and medians == sorted(medians, reverse=True) and medians[-1] > 0
