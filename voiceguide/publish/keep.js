// Offline. Served over https or from localhost, the page is a web app whose service worker
// (sw.js) keeps the page itself, and "Keep on this phone" stores a session's MP3 and cover in
// the cache the worker plays kept sessions from, seeking included. Browsers allow service
// workers only on secure pages: over plain http (a phone on the home Wi-Fi) the page says so,
// and "Save MP3" puts the file in the phone's downloads instead. Nothing fails unsaid.

const KEPT = "voiceguide-kept";  // the cache sw.js plays kept sessions from
const SAVE_INSTEAD = "Use “Save MP3” to put a session in this phone's downloads instead.";
const notice = document.getElementById("notice");
let standing = "";  // what the notice says whatever the network does

function tell() {
  if (location.protocol === "file:") return;  // everything on the page is on this device
  const kept = sessions.some((session) => session.kept === "kept");
  const offline = navigator.onLine ? ""
    : kept ? "You are offline: the sessions kept on this phone play, the others need the network."
    : "You are offline, and no session is kept on this phone.";
  notice.textContent = [offline, standing].filter(Boolean).join(" ");
  notice.hidden = !notice.textContent;
}

async function setUpOffline() {
  if (location.protocol === "file:") return;  // the files are on this device already
  if (!window.isSecureContext) {
    standing = `Keeping sessions for offline use needs a secure page (https, or localhost), and ` +
      `${location.host} is plain http, where browsers do not allow it. ${SAVE_INSTEAD}`;
    return tell();
  }
  if (!("serviceWorker" in navigator) || !("caches" in window)) {
    standing = `This browser cannot keep sessions for offline use. ${SAVE_INSTEAD}`;
    return tell();
  }
  const registered = await navigator.serviceWorker.getRegistration().catch(() => null);
  try {
    await navigator.serviceWorker.register("sw.js");
  } catch (error) {
    // Offline, the worker cannot be fetched again; the one registered before still serves.
    if (!registered) {
      standing = `This browser would not set up offline use (${error.message}). ${SAVE_INSTEAD}`;
      return tell();
    }
  }
  for (const session of sessions) {
    const button = session.element.querySelector(".keep");
    button.hidden = false;
    button.addEventListener("click", () => (session.kept === "kept" ? forget(session) : keep(session)));
    await look(session);
  }
  tell();
}

function urls(session) {
  const mp3 = new URL(session.audio.getAttribute("src"), location.href).href;
  return { mp3, cover: session.cover ? new URL(session.cover, location.href).href : null };
}

// Is the session kept, and is the copy of this build of it? A rebuilt session is kept again.
async function look(session) {
  let copy;
  try {
    copy = await (await caches.open(KEPT)).match(urls(session).mp3);
  } catch (error) {
    return note(session, `Cannot read what is kept on this phone: ${reason(error)}`);
  }
  if (!copy) return;
  session.kept = "kept";
  if (copy.headers.get("X-Voiceguide-Version") === session.version) {
    note(session, `Kept on this phone (${megabytes(copy.headers.get("Content-Length"))}): it plays with the network gone.`);
  } else if (navigator.onLine) {
    await keep(session, "Updating the copy on this phone (the session was rebuilt)");
  } else {
    note(session, "The copy on this phone is of an older build; it is updated when the network is back.");
  }
  label(session);
  render(session);
}

async function keep(session, doing = "Keeping it on this phone") {
  const button = session.element.querySelector(".keep");
  const { mp3, cover } = urls(session);
  button.disabled = true;
  session.kept = "keeping";
  try {
    // no-store: past the worker's copy, so an update fetches the new build.
    const response = await fetch(mp3, { cache: "no-store" });
    if (!response.ok) throw new Error(`the server answered ${response.status} ${response.statusText}`);
    const total = Number(response.headers.get("Content-Length")) || 0;
    // One copy of the stream goes to the cache (on disk, not held in memory), one is counted.
    const [stored, counted] = response.body.tee();
    const headers = { "Content-Type": "audio/mpeg", "X-Voiceguide-Version": session.version };
    if (total) headers["Content-Length"] = String(total);
    const cache = await caches.open(KEPT);
    const putting = cache.put(mp3, new Response(stored, { headers }));
    const reader = counted.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.byteLength;
      note(session, `${doing}… ${total ? `${Math.floor((got * 100) / total)}%` : megabytes(got)}`);
    }
    await putting;
    if (total && got !== total) {
      await cache.delete(mp3);
      throw new Error("the download stopped short");
    }
    if (cover) {
      const art = await fetch(cover, { cache: "no-store" }).catch(() => null);  // the lock screen's picture
      if (art && art.ok) await cache.put(cover, art);
    }
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    session.kept = "kept";
    note(session, `Kept on this phone (${megabytes(got)}): it plays with the network gone.`);
  } catch (error) {
    // A failed update leaves the copy kept before.
    const before = await caches.match(mp3, { cacheName: KEPT }).catch(() => null);
    session.kept = before ? "kept" : "";
    note(session, `Could not ${before ? "update the copy" : "keep it"} on this phone: ${reason(error)}.`);
  } finally {
    button.disabled = false;
    label(session);
    render(session);
    tell();
  }
}

async function forget(session) {
  const { mp3, cover } = urls(session);
  try {
    const cache = await caches.open(KEPT);
    await cache.delete(mp3);
    if (cover) await cache.delete(cover);
    session.kept = "";
    note(session, "Removed from this phone.");
  } catch (error) {
    note(session, `Could not remove it: ${reason(error)}.`);
  }
  label(session);
  render(session);
  tell();
}

function label(session) {
  session.element.querySelector(".keep").textContent =
    session.kept === "kept" ? "Remove from this phone" : "Keep on this phone";
}

function note(session, text) {
  const line = session.element.querySelector(".kept");
  if (line.textContent !== text) line.textContent = text;  // a screen reader hears each change
}

function reason(error) {
  if (error && error.name === "QuotaExceededError") return "there is not enough room for it on this phone";
  if (error instanceof TypeError) return navigator.onLine ? "the network failed" : "you are offline";
  return (error && error.message) || String(error);
}

function megabytes(bytes) {
  return `${(Number(bytes) / 1e6).toFixed(1)} MB`;
}

addEventListener("offline", tell);
addEventListener("online", () => {
  tell();
  for (const session of sessions) {
    if (session.problem) session.audio.load();  // try again now that the network is back
  }
});
tell();
setUpOffline();
