// RTR-DiT watch page: plays a published stream's stylized video over WHEP (/whep/NAME) and
// changes its style through POST /streams/NAME. Plain JS; state for tests is window.rtr.
"use strict";

const $ = (id) => document.getElementById(id);
const NAME = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const rtr = window.rtr = { connected: false, framesReceived: 0, stats: null, errors: [], resource: null,
                           audio: false, audioPackets: 0, audioEnergy: 0, presets: null };
let pc = null, statsTimer = null, outTimes = [];

function authHeaders() { return TOKEN ? { "Authorization": "Bearer " + TOKEN } : {}; }
function setStatus(text, cls) { const s = $("status"); s.textContent = text; s.className = "pill " + (cls || ""); }
function say(text, isError) {
  const m = $("message"); m.textContent = text; m.className = isError ? "error" : "";
  if (isError) rtr.errors.push(text);
}

async function problem(res) {
  try { return (await res.json()).error || ("HTTP " + res.status); } catch { return "HTTP " + res.status; }
}

async function connect() {
  await disconnect();
  setStatus("connecting");
  pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("audio", { direction: "recvonly" });  // the publisher's sound, if it sends any
  pc.addTransceiver("video", { direction: "recvonly" });
  const media = new MediaStream();
  pc.ontrack = (ev) => {
    media.addTrack(ev.track);
    if (ev.track.kind === "audio") { rtr.audio = true; $("sound").hidden = false; }
    $("outVideo").srcObject = media;
    $("outVideo").play().catch(() => {});
  };
  pc.addEventListener("connectionstatechange", () => {
    rtr.connected = pc.connectionState === "connected";
    setStatus(rtr.connected ? "live" : pc.connectionState, rtr.connected ? "live" : "error");
  });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {   // the server takes no trickled candidates: gather them first
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
  const res = await fetch("/whep/" + encodeURIComponent(NAME), {
    method: "POST", headers: { "Content-Type": "application/sdp", ...authHeaders() }, body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(await problem(res));
  rtr.resource = res.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  statsTimer = setInterval(pollStats, 1000);
}

async function disconnect() {
  if (statsTimer) clearInterval(statsTimer);
  if (rtr.resource) fetch(rtr.resource, { method: "DELETE", headers: authHeaders(), keepalive: true }).catch(() => {});
  if (pc) pc.close();
  pc = null; rtr.resource = null; rtr.connected = false; rtr.audio = false; $("sound").hidden = true;
}

async function pollStats() {
  if (pc && rtr.audio) {  // the sound's energy received so far (tests; plays muted until the button)
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") {
        rtr.audioPackets = r.packetsReceived || 0; rtr.audioEnergy = r.totalAudioEnergy || 0;
      }
    });
  }
  const res = await fetch("/streams", { headers: authHeaders() }).catch(() => null);
  if (!res || !res.ok) return;
  const stream = (await res.json()).streams.find((s) => s.name === NAME);
  if (!stream) { setStatus("ended", "error"); return; }
  rtr.stats = stream;
  $("latency").textContent = Math.round(stream.latency_ms) + " ms";
  if (!$("prompt").value && stream.style.prompt) $("prompt").value = stream.style.prompt;
}

function countVideoFrames(video) {
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
  const onFrame = (now) => {
    rtr.framesReceived++;
    outTimes.push(now); if (outTimes.length > 30) outTimes.shift();
    if (outTimes.length > 1) {
      $("fps").textContent = ((outTimes.length - 1) * 1000 / (outTimes.at(-1) - outTimes[0])).toFixed(1) + " fps";
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

async function sendStyle(message, what) {
  const res = await fetch("/streams/" + encodeURIComponent(NAME), {
    method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() }, body: JSON.stringify(message),
  });
  if (res.ok) say("style: " + what); else say(await problem(res), true);
}

// The model's one-tap styles (GET /presets: the styles it knows), as on the camera page; none where it names none.
async function loadPresets() {
  let presets = [];
  try {
    const res = await fetch("/presets", { headers: authHeaders() });
    presets = res.ok ? (await res.json()).presets : [];
  } catch (e) { /* an older server without /presets: the prompt box alone */ }
  for (const p of presets) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = p.name; b.setAttribute("role", "listitem");
    b.onclick = () => { $("prompt").value = p.prompt; sendStyle({ type: "style", prompt: p.prompt }, p.prompt); };
    $("presets").appendChild(b);
  }
  rtr.presets = presets.map((p) => [p.name, p.prompt]);
}

async function applyReference(file) {
  if (!file) return;
  const url = await referenceDataURL(file);
  if (!url) { say("cannot read that image", true); return; }
  $("refThumb").src = url; $("refThumb").hidden = false;
  await sendStyle({ type: "style", reference: url.split(",")[1] }, "reference image " + file.name);
}

$("name").textContent = NAME;
document.title = NAME + " · RTR-DiT";
$("controls").onsubmit = (ev) => {
  ev.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) { say("type a style first", true); return; }
  sendStyle({ type: "style", prompt }, prompt);
};
$("refFile").onchange = (ev) => applyReference(ev.target.files[0]);
$("sound").onclick = () => {  // browsers play sound only after a tap: the video starts muted
  const video = $("outVideo");
  video.muted = !video.muted;
  $("sound").textContent = video.muted ? "Sound on" : "Sound off";
  video.play().catch(() => {});
};
$("reconnect").onclick = () => connect().catch((e) => { setStatus("error", "error"); say(e.message, true); });
window.addEventListener("pagehide", disconnect);
countVideoFrames($("outVideo"));
loadPresets();
connect().catch((e) => { setStatus("error", "error"); say(e.message, true); });
