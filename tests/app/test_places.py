"""Offline places: names to coordinates, and a trial's nearest site."""

from __future__ import annotations

from app import places
from ingest.models import Location


def test_cities_regions_and_countries_resolve_offline():
    chicago = places.resolve("Chicago")
    assert chicago is not None and chicago.country == "US" and chicago.kind == "city"
    assert places.resolve("Spain").kind == "country" and places.resolve("Texas").kind == "region"
    assert places.resolve("Seoul, Korea").country == "KR"
    assert places.resolve("Qwxzy Nowhereville") is None


def test_distance_is_great_circle():
    chicago, toronto = places.resolve("Chicago"), places.resolve("Toronto")
    assert 650 < places.distance_km(chicago, toronto) < 750


def test_nearest_site_picks_the_closest_location(seed_trials):
    trial = seed_trials["NCT03171194"]  # Atlanta and Charleston
    site = places.nearest_site(trial, places.resolve("Columbia, South Carolina"))
    assert site is not None and site.city == "Charleston" and site.distance_km < 200
    assert places.site_place(Location(city="Montreal", country="Canada")).country == "CA"
