// The driver app's service worker (scope /driver): it keeps the app's shell (the
// page and its files) so the app opens without a network. Pages and files come
// from the network while there is one (and the copy is refreshed); the kept copy
// answers when there is not. The API is never kept here: the app keeps the route
// it last read, and its outbox keeps what the driver did.

const CACHE = "lastmile-driver-v1";
const SHELL = [/*SHELL*/];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { credentials: "same-origin" })))),
  );
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("lastmile-driver-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return url.origin === self.location.origin && (url.pathname === "/driver" || SHELL.includes(url.pathname));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || !isShell(url)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        // Only the page itself, signed in, is worth keeping (not a redirect to the login).
        if (response.ok && !response.redirected) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return response;
      })
      .catch(() => caches.match(url.pathname).then((kept) => kept ?? Response.error())),
  );
});
