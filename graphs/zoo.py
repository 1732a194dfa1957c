"""``python -m moccasin_graphs.zoo``: trace the model zoo's training steps into ``graphs/zoo/``.

Each model of :mod:`moccasin.torch.zoo` at its default size (see that module for the input
sizes) is traced with :func:`moccasin.torch.trace` (FLOP costs, byte sizes) and saved as
``<name>_step.json``; the table printed is the one in ``graphs/README.md``. Needs torch.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from moccasin.graph.io import save_graph
from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline

OUT = Path(__file__).resolve().parent / "zoo"


def main() -> None:
    from moccasin.torch import trace
    from moccasin.torch.zoo import ZOO

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=list(ZOO), help="zoo names (default: all)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| file | nodes | edges | baseline peak MiB | resident MiB | trace s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models:
        model, inputs = ZOO[name]()
        t = time.perf_counter()
        G = trace(model, *inputs, name=f"{name}_train")
        seconds = time.perf_counter() - t
        save_graph(G, args.out / f"{name}_step.json")
        peak = baseline(Problem.from_graph(G)).peak
        print(f"| `zoo/{name}_step.json` | {G.number_of_nodes()} | {G.number_of_edges()} | {peak / 2**20:.2f} | "
              f"{G.graph.get('resident_bytes', 0) / 2**20:.2f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
