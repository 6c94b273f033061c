"""Build `src/shopmind/data/imagenet_classes.json` (the 1000 ImageNet-1k class names, in logit order).

The names are WordNet lemmas (public data). Source used: the synset list and lemma table that the
`timm` wheel ships as data files; run `pip download timm --no-deps` and point this script at them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(info_dir: str) -> None:
    info = Path(info_dir)
    synsets = info.joinpath("imagenet_synsets.txt").read_text().split()
    lemmas = dict(line.split("\t", 1) for line in info.joinpath("imagenet_synset_to_lemma.txt").read_text().splitlines())
    names = [lemmas[s].strip() for s in synsets]
    out = Path(__file__).resolve().parents[1] / "src/shopmind/data/imagenet_classes.json"
    out.write_text(json.dumps({"source": "WordNet lemmas of the ImageNet-1k synsets", "classes": names}, ensure_ascii=False, indent=0))
    print(f"wrote {len(names)} classes to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
