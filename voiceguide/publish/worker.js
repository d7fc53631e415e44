// voiceguide's service worker (written as sw.js beside index.html). Two caches:
//   voiceguide-page  the page, its manifest and icons, and the covers seen: always asked of
//                    the network first, so a rebuilt page shows at once; from here offline.
//   voiceguide-kept  the sessions kept on this phone (the page stores them there): played
//                    from here, online or not. An audio element asks for byte ranges, and a
//                    cache holds whole files, so the ranges are cut here: 206 with its
//                    Content-Range, as `voiceguide serve` answers.
"use strict";

const PAGE = "voiceguide-page";
const KEPT = "voiceguide-kept";
const SHELL = ["./", "manifest.webmanifest", "icon-192.png", "icon-512.png"];
const PATIENCE = 4000;  // ms a page load waits for the network before taking the page kept here

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(PAGE);
    // One missing file must not stop the rest from being kept.
    await Promise.all(SHELL.map((url) => cache.add(url).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(answer(request));
});

async function answer(request) {
  // no-store: the page fetching a session to keep it, past the copy kept before.
  if (request.cache !== "no-store") {
    const kept = await caches.match(request.url, { cacheName: KEPT, ignoreSearch: true });
    if (kept) return ranged(request, kept);
  }
  if (request.mode === "navigate" || /\.(html|webmanifest|png)$/.test(new URL(request.url).pathname)) {
    return networkFirst(request);
  }
  return fetch(request);
}

async function networkFirst(request) {
  const cache = await caches.open(PAGE);
  const network = fetch(request).then(async (response) => {
    if (response.status === 200) await cache.put(request, response.clone());
    return response;
  });
  network.catch(() => {});  // when the page kept here answered first, a failure later is nobody's
  const fallback = async () =>
    (await cache.match(request, { ignoreSearch: true })) ||
    (request.mode === "navigate" ? await cache.match(self.registration.scope) : undefined);
  // A page waits a few seconds for a slow network, then takes what is here, if anything.
  const slow = new Promise((resolve) => setTimeout(resolve, PATIENCE)).then(fallback);
  try {
    return await Promise.race([network, slow.then((cached) => cached || network)]);
  } catch (error) {
    const cached = await fallback();
    if (cached) return cached;
    throw error;
  }
}

async function ranged(request, kept) {
  const header = request.headers.get("Range");
  if (!header) return kept;
  const body = await kept.blob();
  const size = body.size;
  const type = kept.headers.get("Content-Type") || "application/octet-stream";
  const wanted = byteRange(header, size);
  if (wanted === null) {
    return new Response(body, { status: 200, headers: { "Content-Type": type, "Content-Length": String(size), "Accept-Ranges": "bytes" } });
  }
  if (wanted === "none") {
    return new Response(null, { status: 416, statusText: "Range Not Satisfiable", headers: { "Content-Range": `bytes */${size}` } });
  }
  const [first, last] = wanted;
  return new Response(body.slice(first, last + 1), {
    status: 206,
    statusText: "Partial Content",
    headers: {
      "Content-Type": type,
      "Content-Length": String(last - first + 1),
      "Content-Range": `bytes ${first}-${last}/${size}`,
      "Accept-Ranges": "bytes",
    },
  });
}

// The first and last byte a Range header asks for, by the rules of voiceguide serve
// (http_files.requested_range): null for the whole file (no header, several ranges, another
// unit, an invalid one), "none" when no byte can be sent (416).
function byteRange(header, size) {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === "" && match[2] === "")) return null;
  const [first, last] = [match[1], match[2]];
  if (first !== "" && last !== "" && Number(last) < Number(first)) return null;
  if (first === "") {
    if (Number(last) === 0 || size === 0) return "none";
    return [Math.max(0, size - Number(last)), size - 1];
  }
  if (Number(first) >= size) return "none";
  return [Number(first), last !== "" ? Math.min(Number(last), size - 1) : size - 1];
}
