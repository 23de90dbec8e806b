"""The grid of a spritesheet (frames in time order, row by row), so the player can cut it into a storyboard.

No provider publishes the layout. Tiles have the video's aspect ratio, so a column count fixes the rows, but many
counts fit a grid of 16:9 tiles (a 4 x 4 sheet is also a 2 x 2 or 8 x 8 one). The known producers make tiles whose
long side is near 256 px (the sandbox: 4 columns of 256 px; sheets made from an MP4: 5 columns of 160 px), so the
fitting grid whose tiles come nearest that size wins (compared as ratios); black cells at the end are padding.
A sheet that fits no grid is shown as one tile.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image
from pydantic import BaseModel

MAX_COLUMNS = 12
TYPICAL_TILE_PX = 256.0
BLACK = 8
"""A padding cell's brightest pixel is at most this (JPEG noise), out of 255."""


class Grid(BaseModel):
    columns: int
    rows: int
    tiles: int


def detect(path: Path, video_width: int, video_height: int) -> Grid:
    with Image.open(path) as image:
        grey = image.convert("L")
    width, height = grey.size
    aspect = video_width / video_height
    best, best_score = Grid(columns=1, rows=1, tiles=1), math.inf
    for columns in range(1, MAX_COLUMNS + 1):
        tile_w = width / columns
        rows_exact = height / (tile_w / aspect)
        rows = round(rows_exact)
        if rows < 1 or abs(rows_exact - rows) > 0.05 * rows:
            continue
        score = abs(math.log(max(tile_w, tile_w / aspect) / TYPICAL_TILE_PX))
        if score < best_score:
            best, best_score = Grid(columns=columns, rows=rows, tiles=columns * rows), score
    tile_w, tile_h = width / best.columns, height / best.rows
    tiles = best.tiles
    while tiles > 1:
        row, column = divmod(tiles - 1, best.columns)
        inset_w, inset_h = tile_w / 8, tile_h / 8  # JPEG ringing from the neighbour stays near the edges
        box = (
            round(column * tile_w + inset_w),
            round(row * tile_h + inset_h),
            round((column + 1) * tile_w - inset_w),
            round((row + 1) * tile_h - inset_h),
        )
        brightest = grey.crop(box).getextrema()[1]
        if isinstance(brightest, int | float) and brightest > BLACK:
            break
        tiles -= 1
    return best.model_copy(update={"tiles": tiles})
