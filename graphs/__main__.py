"""``python -m moccasin_graphs``: regenerate the saved graphs in this folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from moccasin.graph.io import save_graph
from moccasin_graphs.generators import chain, random_layered, training_graph, unet

HERE = Path(__file__).resolve().parent

#: file name -> how it is made; fixed seeds, so the files are reproducible.
GRAPHS = {
    "chain32_train.json": lambda: training_graph(chain(32, ram=1 << 20, cpu=100), name="chain32_train"),
    "unet4_train.json": lambda: training_graph(unet(4), name="unet4_train"),
    "random_layered_n200_s1.json": lambda: random_layered(200, seed=1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: this package's folder)")
    args = parser.parse_args()
    for file, make in GRAPHS.items():
        G = make()
        save_graph(G, args.out / file)
        print(f"{file}: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges")


if __name__ == "__main__":
    main()
