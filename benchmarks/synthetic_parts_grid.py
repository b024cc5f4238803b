"""Draw docs/synthetic_parts.png: per category, two normal images and each defect with its mask
(red). Run: python benchmarks/synthetic_parts_grid.py [out.png]"""

import sys

import numpy as np
from PIL import Image

from anomalens.data.synthetic_parts import DEFECTS, render

SIZE = 96


def main(out: str = "docs/synthetic_parts.png") -> None:
    rows = []
    width = 2 + 2 * max(len(d) for d in DEFECTS.values())
    for cat, defects in DEFECTS.items():
        row = [render(cat, None, index=i, size=SIZE)[0] for i in range(2)]
        for j, d in enumerate(defects):
            img, mask = render(cat, d, index=j, size=SIZE)
            marked = img.copy()
            marked[mask] = (0.4 * marked[mask] + np.array([153, 0, 0])).astype(np.uint8)
            row += [img, marked]
        row += [np.full_like(row[0], 255)] * (width - len(row))
        rows.append(np.concatenate(row, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(out, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
