// The officer app's service worker (served at /officer/sw.js, scope /officer/).
//
// It keeps the app shell, that is the page, its script and style, the common
// modules it imports and Leaflet, so that a reload with no signal still opens
// the app (and its outbox, which lives in localStorage, with it). Each of them
// comes from the network first, so a new version is picked up at once; the
// cache answers only when the network cannot (or is too slow to). Live data
// never passes through here: /api/ and /ws are not in the shell, so they always
// go to the network, and nothing an account reads is ever stored.

const CACHE = "officer-shell-v1";
const SHELL = [
  "/officer/",
  "/static/officer/main.js",
  "/static/officer/officer.css",
  "/static/common/base.css",
  "/static/common/dom.js",
  "/static/common/format.js",
  "/static/common/hub.js",
  "/static/common/map.js",
  "/static/common/session.js",
  "/static/common/tones.js",
  "/static/board/state.js",
  "/vendor/leaflet/leaflet.css",
  "/vendor/leaflet/leaflet-src.esm.js",
];
const KEPT = new Set(SHELL);
// Past this, a slow network loses to the cache (the answer still updates the cache when it comes).
const NETWORK_WAIT_MS = 4000;

/** Only a plain, complete answer from this origin is kept: never a redirect (to sign in) or an error. */
function keepable(response) {
  return response.ok && response.type === "basic" && !response.redirected;
}

async function precache() {
  const cache = await caches.open(CACHE);
  await Promise.all(
    SHELL.map(async (path) => {
      try {
        const response = await fetch(path, { credentials: "same-origin", cache: "no-cache" });
        if (keepable(response)) await cache.put(path, response);
      } catch {
        // not reachable now: kept the next time the page loads it
      }
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith("officer-shell-") && name !== CACHE) await caches.delete(name);
      await self.clients.claim(); // the page that registered us is served from here from now on
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !KEPT.has(url.pathname)) return;
  event.respondWith(networkFirst(request, url.pathname));
});

async function networkFirst(request, path) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (keepable(response)) await cache.put(path, response.clone());
    return response;
  });
  fromNetwork.catch(() => {}); // lost the race to the cache: nobody waits for it
  let timer = null;
  const tooSlow = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("the network is too slow")), NETWORK_WAIT_MS);
  });
  try {
    return await Promise.race([fromNetwork, tooSlow]);
  } catch {
    const cached = await cache.match(path);
    return cached || fromNetwork; // nothing kept: the network's own answer (or its error)
  } finally {
    clearTimeout(timer);
  }
}
