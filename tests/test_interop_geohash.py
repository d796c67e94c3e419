"""The project's one geohash codec (topics.geo) against the independent `pygeohash`.

The pipeline names cells with `geohash` and the API draws them with `geohash_bounds`; a
cell another geohash tool (ClickHouse's geohashEncode, a GIS layer) names differently
would put a hotspot in the wrong square of the map.
"""

from __future__ import annotations

import random

import pygeohash
import pytest

from sitaware.api.situations import cell_bounds
from topics.geo import CELL_PRECISION, geohash, geohash_bounds

POINTS = 20_000


def _random_points(seed: int, n: int):
    rng = random.Random(seed)
    for _ in range(n):
        yield rng.uniform(-90.0, 90.0), rng.uniform(-180.0, 180.0), rng.randint(1, 12)


def _their_bounds(cell: str) -> list[float]:
    box = pygeohash.get_bounding_box(cell)
    return [box.min_lon, box.min_lat, box.max_lon, box.max_lat]


def test_the_api_draws_cells_with_the_one_decoder():
    assert cell_bounds is geohash_bounds


def test_encode_and_decode_agree_with_pygeohash_on_random_points():
    checked = 0
    for lat, lon, precision in _random_points(20260, POINTS):
        cell = geohash(lat, lon, precision)
        assert cell == pygeohash.encode(lat, lon, precision), (lat, lon, precision)
        bounds = geohash_bounds(cell)
        assert bounds == pytest.approx(_their_bounds(cell), abs=1e-12), cell
        min_lon, min_lat, max_lon, max_lat = bounds
        assert min_lon <= lon < max_lon or lon == max_lon == 180.0, (cell, lon, bounds)
        assert min_lat <= lat < max_lat or lat == max_lat == 90.0, (cell, lat, bounds)
        centre = pygeohash.decode_exactly(cell)
        assert ((min_lat + max_lat) / 2, (min_lon + max_lon) / 2) == pytest.approx(
            (centre.latitude, centre.longitude), abs=1e-12)
        checked += 1
    assert checked == POINTS


def test_points_on_cell_edges_fall_in_the_same_cell_as_pygeohash():
    """Edges are where two codecs of the same bisection can still differ (> against >=)."""
    rng = random.Random(7)
    corners = [(0.0, 0.0), (-90.0, -180.0), (90.0, 180.0), (0.0, 180.0), (-90.0, 0.0)]
    for lat, lon, precision in _random_points(8, 2_000):
        min_lon, min_lat, max_lon, max_lat = geohash_bounds(geohash(lat, lon, precision))
        corners += [(min_lat, min_lon), (max_lat, max_lon), (min_lat, rng.uniform(min_lon, max_lon))]
    for lat, lon in corners:
        for precision in (1, CELL_PRECISION, 12):
            assert geohash(lat, lon, precision) == pygeohash.encode(lat, lon, precision), (lat, lon, precision)


@pytest.mark.parametrize("cell", ["", "wtw3sA", "wtw3sa", "wtw 3s", "ilo"])
def test_what_is_not_a_cell_has_no_bounds(cell):
    assert geohash_bounds(cell) is None
    assert not pygeohash.is_valid_geohash(cell)


def test_upper_case_is_not_a_cell_of_ours():
    """pygeohash accepts "WTW3SJ"; the pipeline only ever writes lower case, so an upper-case
    cell in a request names nothing the map could draw."""
    assert geohash_bounds("WTW3SJ") is None and geohash_bounds("wtw3sj") is not None
