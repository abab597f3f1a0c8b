// The base map: Leaflet (from npm, served at /vendor/leaflet/), tiles from the
// hub's configured URL, and the service area with its districts drawn as
// vectors, so that with no tiles reachable the map still shows where things are.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";

export { L };

export function baseMap(element, me, { zoom = 11 } = {}) {
  const map = L.map(element, { preferCanvas: true, zoomControl: true, keyboard: true, attributionControl: true });
  if (me.tiles.url) {
    L.tileLayer(me.tiles.url, { maxZoom: 19, attribution: me.tiles.attribution }).addTo(map);
  } else {
    element.classList.add("no-tiles");
  }
  let bounds = null;
  if (me.area) {
    L.geoJSON(me.area, {
      interactive: false,
      style: (feature) =>
        feature.properties?.role === "service_area"
          ? { color: "#1d4ed8", weight: 3, fill: false }
          : { color: "#64748b", weight: 1, dashArray: "4 4", fillOpacity: 0.03 },
    }).addTo(map);
    const outline = (me.area.features || []).filter((f) => f.properties?.role === "service_area");
    if (outline.length) bounds = L.geoJSON({ type: "FeatureCollection", features: outline }).getBounds();
  }
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8] });
  else map.setView([53.5461, -113.4938], zoom);
  // Panels resize (an alarm banner opens, the window changes): Leaflet must be told.
  new ResizeObserver(() => map.invalidateSize({ pan: false })).observe(element);
  return map;
}
