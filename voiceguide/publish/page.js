// The player. Tapping a chapter or a line of the transcript seeks there and plays; as the audio
// plays, the current chapter and the line being spoken are marked (aria-current). One session
// plays at a time, and it is the one on the lock screen (Media Session): the exercise as the
// track, next and previous to move by chapter, 10 s steps back and forward. Where each session
// was left is remembered on this device ("Resume at 7:40 (Cobra)"), and when it was finished.
"use strict";

const SKIP = 10;  // seconds the lock screen's seek buttons step
const RESUME_FROM = 10;  // a session left before this many seconds starts from the beginning
const media = "mediaSession" in navigator ? navigator.mediaSession : null;
const memory = localMemory();
let active = null;  // the session playing, or the one played last: the lock screen's
const now = document.getElementById("now");  // what plays, while its player is out of sight
let playerInSight = true;
const sight = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
  for (const entry of entries) if (active && entry.target === active.audio) playerInSight = entry.isIntersecting;
  showNow();
}) : null;
const sessions = [...document.querySelectorAll(".session")].map(setUp);

const feed = document.getElementById("feed");
if (location.protocol.startsWith("http")) feed.textContent = new URL("feed.xml", location.href).href;

function setUp(element) {
  const session = {
    element,
    name: element.id,
    title: element.dataset.title,
    cover: element.dataset.cover,
    version: element.dataset.version,
    audio: element.querySelector("audio"),
    chapters: [...element.querySelectorAll(".chapters button")],
    lines: [...element.querySelectorAll(".lines li")],
    box: element.querySelector(".lines"),
    resume: element.querySelector(".resume"),
    status: element.querySelector(".status"),
    chapter: null,  // the chapter button the audio is in
    spoken: null,  // the transcript line being said
    problem: "",  // why the audio cannot play, shown until it can
    kept: "",  // "kept" or "keeping" (keep.js)
  };
  const audio = session.audio;
  session.text = fold([session.title, element.querySelector(".summary")?.textContent || "",
    ...session.chapters.map((button) => button.textContent)].join(" "));

  element.addEventListener("click", (event) => {
    const target = event.target.closest("[data-start]");
    if (!target) return;
    seek(session, Number(target.dataset.start));
    play(session);
  });
  session.resume.querySelector("button").addEventListener("click", () => {
    const saved = memory.get(session.name);
    if (saved.position) seek(session, saved.position);
    play(session);
  });
  element.addEventListener("toggle", () => {
    if (element.open && audio.preload === "none") audio.preload = "metadata";
    if (session === active) showNow();
  });

  audio.addEventListener("timeupdate", () => { mark(session); rememberNow(session, false); });
  audio.addEventListener("seeked", () => { mark(session); rememberNow(session, true); showPosition(session); });
  audio.addEventListener("loadedmetadata", () => showPosition(session));
  audio.addEventListener("ratechange", () => showPosition(session));
  audio.addEventListener("play", () => {
    for (const other of sessions) if (other !== session) other.audio.pause();
    follow(session);
    session.problem = "";
    mark(session);
    showOnLockScreen(session);
    if (media) media.playbackState = "playing";
    showPosition(session);
    render(session);
  });
  audio.addEventListener("pause", () => {
    if (media && active === session) media.playbackState = "paused";
    rememberNow(session, true);
    showPosition(session);
    render(session);
  });
  audio.addEventListener("ended", () => finished(session));
  audio.addEventListener("error", () => {
    session.problem = whyNot(session);
    render(session);
  });
  audio.addEventListener("canplay", () => {
    if (session.problem) { session.problem = ""; render(session); }
  });
  render(session);
  return session;
}

function play(session) {
  session.audio.play().catch((error) => {
    // A browser may refuse to start without a tap (the seek stands); anything else is said.
    if (error.name !== "NotAllowedError" && error.name !== "AbortError") {
      session.problem = whyNot(session);
      render(session);
    }
  });
}

function seek(session, time) {
  const audio = session.audio;
  const end = Number.isFinite(audio.duration) ? audio.duration : Infinity;
  audio.currentTime = Math.max(0, Math.min(time, end));
  follow(session);
  mark(session);
}

function follow(session) {
  if (session === active) return;
  active = session;
  if (sight) {
    sight.disconnect();
    sight.observe(session.audio);
  }
}

// The lock screen's previous and next: the start of the chapter before or after. Previous
// goes back to the start of this chapter first, as players do with tracks, unless that is
// where the audio is (within 3 s).
function jump(session, step) {
  const starts = session.chapters.map((button) => Number(button.dataset.start));
  const time = session.audio.currentTime + 0.05;  // just after a chapter's start counts as in it
  if (step > 0) {
    const next = starts.find((start) => start > time);
    if (next !== undefined) seek(session, next);
    return;
  }
  const here = starts.filter((start) => start <= time).length - 1;
  if (here < 0) return;
  seek(session, time - starts[here] > 3 || here === 0 ? starts[here] : starts[here - 1]);
}

function current(items, time) {
  let found = null;
  for (const item of items) if (Number(item.dataset.start) <= time) found = item;
  return found;
}

function mark(session) {
  const time = session.audio.currentTime;
  const chapter = current(session.chapters, time);
  if (chapter !== session.chapter) {
    session.chapter = chapter;
    for (const button of session.chapters) button.toggleAttribute("aria-current", button === chapter);
    if (session === active) showOnLockScreen(session);  // playing, or moved by the lock screen's buttons
    render(session);
  }
  let line = current(session.lines, time);
  if (line && time >= Number(line.dataset.end)) line = null;  // between lines: nothing is said
  if (line === session.spoken) return;
  if (session.spoken) session.spoken.removeAttribute("aria-current");
  session.spoken = line;
  if (line) {
    line.setAttribute("aria-current", "true");
    const box = session.box;
    if (box.offsetParent) box.scrollTo({ top: line.offsetTop - box.clientHeight / 3, behavior: "smooth" });
  }
}

function chapterName(session, time) {
  const chapter = current(session.chapters, time);
  return chapter ? chapter.querySelector(".name").textContent : "";
}

// --- The lock screen ---

function showOnLockScreen(session) {
  if (!media || typeof MediaMetadata === "undefined") return;
  const artwork = session.cover
    ? [{ src: new URL(session.cover, location.href).href, sizes: "1400x1400", type: "image/png" }]
    : [];
  media.metadata = new MediaMetadata({
    title: chapterName(session, session.audio.currentTime) || session.title,
    artist: session.title,
    album: "voiceguide",
    artwork,
  });
}

function showPosition(session) {
  const audio = session.audio;
  if (!media || !media.setPositionState || session !== active || !Number.isFinite(audio.duration)) return;
  try {
    media.setPositionState({
      duration: audio.duration, playbackRate: audio.playbackRate,
      position: Math.min(audio.currentTime, audio.duration),
    });
  } catch (error) {
    // A position the browser will not take (while the duration is being read) is shown next time.
  }
}

const actions = {
  play: () => active && play(active),
  pause: () => active && active.audio.pause(),
  stop: () => active && active.audio.pause(),
  previoustrack: () => active && jump(active, -1),
  nexttrack: () => active && jump(active, 1),
  seekbackward: (details) => active && seek(active, active.audio.currentTime - (details?.seekOffset || SKIP)),
  seekforward: (details) => active && seek(active, active.audio.currentTime + (details?.seekOffset || SKIP)),
  seekto: (details) => active && seek(active, details.seekTime),
};
if (media) {
  for (const [action, handler] of Object.entries(actions)) {
    try {
      media.setActionHandler(action, handler);
    } catch (error) {
      // This browser has no such action.
    }
  }
}

// --- Where each session was left, and when it was finished ---

function localMemory() {
  let store = null;
  try {
    store = window.localStorage;
    store.getItem("voiceguide");
  } catch (error) {
    store = null;  // storage refused (a private window, a file page in some browsers): nothing is kept
  }
  const key = (name) => `voiceguide:${name}`;
  return {
    get(name) {
      try {
        return JSON.parse(store?.getItem(key(name)) || "{}") || {};
      } catch (error) {
        return {};
      }
    },
    set(name, value) {
      try {
        store?.setItem(key(name), JSON.stringify(value));
      } catch (error) {
        // Full: the position is not kept this time.
      }
    },
  };
}

function rememberNow(session, now) {
  // While playing, every few seconds; at once on pause, seek and leaving the page. The first
  // seconds are not a place to resume from, and do not undo one (a play pressed by mistake).
  const audio = session.audio;
  const time = audio.currentTime;
  if (!now && Math.abs(time - (session.rememberedAt ?? -Infinity)) < 5) return;
  if (audio.ended || time < RESUME_FROM) return;
  session.rememberedAt = time;
  const saved = memory.get(session.name);
  const position = Math.floor(time);
  if (saved.position === position) return;
  memory.set(session.name, { ...saved, position, version: session.version });
  render(session);
}

function finished(session) {
  const saved = memory.get(session.name);
  const today = new Date();
  memory.set(session.name, {
    ...saved, position: null, done: today.toISOString().slice(0, 10), times: (saved.times || 0) + 1,
  });
  if (media && active === session) media.playbackState = "paused";
  render(session);
}

addEventListener("pagehide", () => { for (const session of sessions) rememberNow(session, true); });

function clock(seconds) {
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

function day(iso) {
  const date = new Date(`${iso}T12:00:00`);
  return Number.isNaN(date.getTime()) ? iso
    : date.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

// What the session's line under its title says, and its resume button.
function render(session) {
  const audio = session.audio;
  const saved = memory.get(session.name);
  const parts = [];
  const playing = !audio.paused && !audio.ended;
  const chapter = chapterName(session, audio.currentTime);
  if (session.problem) parts.push(session.problem);
  else if (playing) parts.push(chapter ? `Playing: ${chapter}` : "Playing");
  else if (saved.position) parts.push(`Left at ${clock(saved.position)}`);
  if (saved.done && !playing) parts.push(`Done ${day(saved.done)}`);
  if (session.kept === "kept") parts.push("On this phone");
  session.status.textContent = parts.join(" · ");

  const resume = session.resume;
  const away = saved.position && Math.abs(audio.currentTime - saved.position) > 2;
  resume.hidden = !(saved.position && audio.paused && away);
  if (!resume.hidden) {
    const name = chapterName(session, saved.position);
    resume.firstElementChild.textContent = `Resume at ${clock(saved.position)}${name ? ` (${name})` : ""}`;
  }
  if (session === active) showNow();
}

// The bar at the bottom: the session started last, while its player is out of sight.
function showNow() {
  const session = active;
  const audio = session && session.audio;
  const started = audio && (!audio.paused || audio.currentTime > 0) && !audio.ended;
  now.hidden = !started || (playerInSight && session.element.open && !session.element.hidden);
  if (now.hidden) return;
  now.querySelector("button").textContent = audio.paused ? "Play" : "Pause";
  const chapter = chapterName(session, audio.currentTime);
  now.querySelector("span").textContent = chapter ? `${chapter} · ${session.title}` : session.title;
  now.querySelector("a").href = `#${encodeURIComponent(session.name)}`;
}
now.querySelector("button").addEventListener("click", () => {
  if (active) active.audio.paused ? play(active) : active.audio.pause();
});

function whyNot(session) {
  const error = session.audio.error;
  if (!navigator.onLine && session.kept !== "kept") return "Offline, and not kept on this phone";
  if (error && error.code === error.MEDIA_ERR_DECODE) return "This browser cannot play the file";
  return "Cannot load the audio";
}

// --- Finding a session among many ---

function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

const find = document.getElementById("find");
if (find) {
  const found = document.getElementById("found");
  find.addEventListener("input", () => {
    const words = fold(find.value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const session of sessions) {
      const match = words.every((word) => session.text.includes(word));
      session.element.hidden = !match;
      shown += match;
    }
    showNow();
    found.textContent = !words.length ? ""
      : shown ? `${shown} of ${sessions.length}` : `No session has “${find.value.trim()}”.`;
  });
}

// A link to one session (the feed's links end in #name) opens it.
function openLinked() {
  const name = decodeURIComponent(location.hash.slice(1));
  const session = sessions.find((s) => s.name === name);
  if (session) session.element.open = true;
}
addEventListener("hashchange", openLinked);
openLinked();
