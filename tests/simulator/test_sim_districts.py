from __future__ import annotations

import pytest

from sitaware.simulator import DISTRICTS_PATH
from topics.districts import Districts


@pytest.fixture(scope="module")
def city() -> Districts:
    return Districts.from_geojson(DISTRICTS_PATH)


def test_the_shipped_city_has_six_districts(city):
    assert city.names == ("Nanhu", "Zhongshan", "Dongping", "Xicheng", "Beiyuan", "Dongcheng")


@pytest.mark.parametrize(
    ("lat", "lon", "district"),
    [(31.12, 121.28, "Nanhu"), (31.15, 121.40, "Zhongshan"), (31.15, 121.52, "Dongping"),
     (31.27, 121.28, "Xicheng"), (31.25, 121.40, "Beiyuan"), (31.26, 121.52, "Dongcheng")],
)
def test_points_fall_in_their_district(city, lat, lon, district):
    assert city.district_of(lat, lon) == district


def test_outside_every_district_is_none(city):
    assert city.district_of(31.5, 121.4) is None
    assert city.district_of(31.2, 121.6) is None


def test_a_point_on_a_shared_border_belongs_to_exactly_one_district(city):
    claims = [p.district for p in city.polygons if p.contains(31.15, 121.345)]
    assert len(claims) == 1


def _square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def test_multipolygons_and_holes():
    districts = Districts.from_mapping({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"district": "Ring"},
         "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 10, 10), _square(4, 4, 6, 6)]}},
        {"type": "Feature", "properties": {"district": "Isles"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[_square(4, 4, 6, 6)], [_square(20, 0, 21, 1)]]}},
    ]})
    assert districts.district_of(1, 1) == "Ring"
    assert districts.district_of(5, 5) == "Isles"  # in Ring's hole
    assert districts.district_of(0.5, 20.5) == "Isles"
    assert districts.district_of(50, 50) is None


def test_a_feature_without_a_district_name_is_refused():
    with pytest.raises(ValueError, match="properties.district"):
        Districts.from_mapping({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 1, 1)]}}
        ]})
