import random

from streams.sectors import sector_of, sectors_near
from topics.geo import haversine_km


def test_every_point_within_radius_is_in_a_listed_sector():
    rng = random.Random(4)
    for _ in range(2000):
        lat, lon = rng.uniform(-60, 60), rng.uniform(-179, 179)
        near = set(sectors_near(lat, lon, 10.0))
        assert sector_of(lat, lon) in near and len(near) <= 9
        # a point at distance <= 10 km in a random direction
        for _ in range(5):
            dlat, dlon = rng.uniform(-0.09, 0.09), rng.uniform(-0.1, 0.1)
            if haversine_km(lat, lon, lat + dlat, lon + dlon) <= 10.0:
                assert sector_of(lat + dlat, lon + dlon) in near


def test_a_city_point_needs_at_most_four_sectors():
    assert max(len(sectors_near(31.0 + i * 0.013, 121.2 + i * 0.017, 10.0)) for i in range(30)) <= 4
