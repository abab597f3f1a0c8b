// Where a point lies against an area given as GeoJSON: inside or not, and
// about how far from it. Pure functions of plain numbers and GeoJSON (no map,
// no DOM), so that a form can warn before it sends. Coordinates are GeoJSON's
// [longitude, latitude]; the functions take (lat, lon) as people say them.

const EARTH_KM = 6371.0088; // mean radius

/** The polygons of any GeoJSON (FeatureCollection, Feature, Polygon, MultiPolygon, GeometryCollection),
 *  each as its rings: the outer ring first, then its holes. Points and lines have none. */
export function polygonsOf(geojson) {
  if (!geojson || typeof geojson !== "object") return [];
  switch (geojson.type) {
    case "FeatureCollection":
      return (geojson.features || []).flatMap(polygonsOf);
    case "Feature":
      return polygonsOf(geojson.geometry);
    case "GeometryCollection":
      return (geojson.geometries || []).flatMap(polygonsOf);
    case "Polygon":
      return geojson.coordinates?.length ? [geojson.coordinates] : [];
    case "MultiPolygon":
      return (geojson.coordinates || []).filter((rings) => rings?.length);
    default:
      return [];
  }
}

/** The service area's polygons: the features marked "role": "service_area" (as the hub's policy marks
 *  the boundary, beside its districts), or every polygon when none is marked. */
export function serviceArea(geojson) {
  const features = geojson?.type === "FeatureCollection" ? geojson.features || [] : [];
  const marked = features.filter((f) => f?.properties?.role === "service_area");
  return marked.length ? marked.flatMap(polygonsOf) : polygonsOf(geojson);
}

/** Ray casting: whether (lon, lat) is inside one closed ring (a point on the edge may go either way). */
export function inRing(lon, lat, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    // The edge crosses the point's latitude, and the crossing is east of the point.
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Inside a polygon: inside its outer ring and in none of its holes. */
export function inPolygon(lon, lat, rings) {
  if (!rings.length || !inRing(lon, lat, rings[0])) return false;
  return !rings.slice(1).some((hole) => inRing(lon, lat, hole));
}

/** Whether the point is inside any of the polygons (as polygonsOf or serviceArea give them). */
export function inside(polygons, lat, lon) {
  return polygons.some((rings) => inPolygon(lon, lat, rings));
}

/** Great-circle distance in km between two points given as (lat, lon) in degrees. */
export function haversineKm(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** About how far (km) the point is from the polygons' edges: 0 inside, else to the nearest point of an edge
 *  (found on a flat projection around the point, which is close enough at city to province scale). */
export function kmFrom(polygons, lat, lon) {
  if (inside(polygons, lat, lon)) return 0;
  const scale = Math.cos((lat * Math.PI) / 180); // degrees of longitude shrink towards the poles
  let best = Infinity;
  for (const rings of polygons) {
    for (const ring of rings) {
      for (let i = 1; i < ring.length; i++) {
        const [x1, y1] = ring[i - 1];
        const [x2, y2] = ring[i];
        const dx = (x2 - x1) * scale;
        const dy = y2 - y1;
        const along = dx || dy ? ((lon - x1) * scale * dx + (lat - y1) * dy) / (dx * dx + dy * dy) : 0;
        const t = Math.max(0, Math.min(1, along));
        best = Math.min(best, haversineKm(lat, lon, y1 + t * dy, x1 + t * (x2 - x1)));
      }
    }
  }
  return best;
}

/** A distance as people say it roughly: "less than 1 km", "7 km", "250 km". */
export function roughKm(km) {
  if (km < 1) return "less than 1 km";
  if (km < 20) return `${Math.round(km)} km`;
  if (km < 200) return `${Math.round(km / 5) * 5} km`;
  return `${Math.round(km / 10) * 10} km`;
}
