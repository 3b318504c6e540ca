// RTR-DiT live client: camera -> server (WebRTC, or WebSocket where WebRTC fails) -> stylized view.
// Plain JS, no build step. State for tests and debugging is exposed as window.rtr.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const TOKEN = params.get("token") || "";
const WS_LONG_SIDE = 320;      // camera frames sent over the WebSocket path are scaled to this long side
const WS_MAX_FPS = 15;
// One-tap styles for a model that names none of its own (GET /presets: the styles the model knows, used instead).
const PRESETS = [
  ["Ink wash", "Turn the video into an ink wash painting"],
  ["Pixar", "Make it look like a Pixar 3D animation"],
  ["Impressionism", "Paint the video in the style of Impressionism"],
  ["Minecraft", "Turn the scene into Minecraft blocks"],
  ["Van Gogh", "Van Gogh starry night brush strokes"],
  ["Anime", "Japanese anime cel shading"],
  ["Sketch", "Pencil sketch on paper"],
];

const rtr = window.rtr = {
  mode: null, connected: false, framesReceived: 0, stats: null, latencyMs: null, latencies: [],
  errors: [], recording: null, presets: null, facing: params.get("camera") === "back" ? "environment" : "user",
};

let camStream = null, pc = null, dc = null, ws = null, recorder = null, paused = false;
let sendTimes = new Map(), pendingFrame = null, sendIndex = 0, captureTimer = null, lastStatsAt = 0;
let outTimes = [];

function setStatus(text, cls) { const s = $("status"); s.textContent = text; s.className = "pill " + (cls || ""); }
function say(text, isError) {
  const m = $("message"); m.textContent = text; m.className = isError ? "error" : "";
  if (isError) rtr.errors.push(text);
}
function authHeaders() { return TOKEN ? { "Authorization": "Bearer " + TOKEN } : {}; }

// ------------------------------------------------------------------- camera
async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("this page needs https (or localhost) for the camera: start rtrdit serve with --self-signed (or --certfile/--keyfile)");
  }
  if (camStream) camStream.getTracks().forEach((t) => t.stop());
  camStream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: rtr.facing, width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } },
  });
  $("srcVideo").srcObject = camStream;
  $("srcVideo").classList.toggle("mirror", rtr.facing === "user");
  return camStream.getVideoTracks()[0];
}

// ------------------------------------------------------------- messaging
function sendJSON(obj) {
  const text = JSON.stringify(obj);
  if (rtr.mode === "webrtc" && dc && dc.readyState === "open") dc.send(text);
  else if (rtr.mode === "ws" && ws && ws.readyState === WebSocket.OPEN) ws.send(text);
  else return false;
  return true;
}

function onServerText(text) {
  let msg;
  try { msg = JSON.parse(text); } catch { return; }
  if (msg.type === "error") { say(msg.message, true); return; }
  if (msg.type === "stats") {
    rtr.stats = msg;
    if (msg.frame !== undefined) pendingFrame = msg.frame;
    if (rtr.mode === "webrtc") updateWebRTCLatency(msg);
    $("fps").textContent = (rtr.mode === "ws" ? measuredFps() : msg.fps).toFixed(1) + " fps";
  }
}

function measuredFps() {
  if (outTimes.length < 2) return 0;
  return (outTimes.length - 1) * 1000 / (outTimes[outTimes.length - 1] - outTimes[0]);
}

function showLatency(ms, approx) {
  rtr.latencyMs = ms;
  rtr.latencies.push(ms);
  if (rtr.latencies.length > 300) rtr.latencies.shift();
  $("latency").textContent = (approx ? "≈" : "") + Math.round(ms) + " ms";
}

// ------------------------------------------------------------- WebSocket
function startWebSocket() {
  return new Promise((resolve, reject) => {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (TOKEN) url.searchParams.set("token", TOKEN);
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const canvas = $("outCanvas"), ctx = canvas.getContext("2d");
    ws.onopen = () => {
      rtr.mode = "ws"; rtr.connected = true;
      $("outCanvas").hidden = false; $("outVideo").hidden = true;
      sendJSON({ type: "style", prompt: $("prompt").value });
      startCaptureLoop();
      resolve();
    };
    ws.onerror = () => reject(new Error("WebSocket failed"));
    ws.onclose = (ev) => {
      rtr.connected = false; stopCaptureLoop();
      if (rtr.mode === "ws") { setStatus("closed", "error"); say("connection closed" + (ev.reason ? ": " + ev.reason : ""), true); }
    };
    ws.onmessage = async (ev) => {
      if (typeof ev.data === "string") { onServerText(ev.data); return; }
      const idx = pendingFrame; pendingFrame = null;
      const bmp = await createImageBitmap(new Blob([ev.data], { type: "image/jpeg" }));
      if (canvas.width !== bmp.width || canvas.height !== bmp.height) { canvas.width = bmp.width; canvas.height = bmp.height; }
      ctx.drawImage(bmp, 0, 0);
      bmp.close();
      const now = performance.now();
      rtr.framesReceived++;
      outTimes.push(now); if (outTimes.length > 30) outTimes.shift();
      if (idx !== null && sendTimes.has(idx)) {
        showLatency(now - sendTimes.get(idx), false);  // capture -> display, one clock
        for (const k of sendTimes.keys()) if (k <= idx) sendTimes.delete(k);
      }
    };
  });
}

function startCaptureLoop() {
  const video = $("srcVideo"), grab = document.createElement("canvas"), g = grab.getContext("2d");
  let busy = false;
  captureTimer = setInterval(() => {
    if (busy || paused || !ws || ws.readyState !== WebSocket.OPEN || video.videoWidth === 0) return;
    if (ws.bufferedAmount > 256 * 1024) return;  // the network is behind: skip this frame
    const s = WS_LONG_SIDE / Math.max(video.videoWidth, video.videoHeight);
    const w = Math.round(video.videoWidth * s / 2) * 2, h = Math.round(video.videoHeight * s / 2) * 2;
    if (grab.width !== w || grab.height !== h) { grab.width = w; grab.height = h; }
    const t = performance.now();
    g.drawImage(video, 0, 0, w, h);
    busy = true;
    grab.toBlob((blob) => {
      busy = false;
      if (!blob || !ws || ws.readyState !== WebSocket.OPEN) return;
      const idx = sendIndex++;
      sendTimes.set(idx, t);
      if (sendTimes.size > 500) sendTimes.delete(sendTimes.keys().next().value);
      ws.send(blob);
    }, "image/jpeg", 0.8);
  }, 1000 / WS_MAX_FPS);
}
function stopCaptureLoop() { if (captureTimer) clearInterval(captureTimer); captureTimer = null; }

// --------------------------------------------------------------- WebRTC
async function startWebRTC(track) {
  pc = new RTCPeerConnection({ iceServers: [] });
  dc = pc.createDataChannel("control");
  dc.onmessage = (ev) => onServerText(ev.data);
  dc.onopen = () => sendJSON({ type: "style", prompt: $("prompt").value });
  pc.addTransceiver(track, { direction: "sendrecv", streams: [camStream] });
  const outVideo = $("outVideo");
  pc.ontrack = (ev) => {
    outVideo.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    outVideo.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {   // the server takes no trickled candidates: gather them first
    if (pc.iceGatheringState === "complete") return resolve();
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
  const res = await fetch("offer", {
    method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer", prompt: $("prompt").value }),
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(answer.error || ("offer refused: HTTP " + res.status));
  await pc.setRemoteDescription(answer);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("WebRTC did not connect")), 8000);
    const check = () => {
      if (pc.connectionState === "connected") { clearTimeout(timer); resolve(); }
      else if (pc.connectionState === "failed") { clearTimeout(timer); reject(new Error("WebRTC failed")); }
    };
    pc.addEventListener("connectionstatechange", check); check();
  });
  rtr.mode = "webrtc"; rtr.connected = true;
  outVideo.hidden = false; $("outCanvas").hidden = true;
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) {
      rtr.connected = false; setStatus(pc.connectionState, "error");
    }
  });
  countVideoFrames(outVideo);
}

function countVideoFrames(video) {
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
  const onFrame = (now) => {
    rtr.framesReceived++;
    outTimes.push(now); if (outTimes.length > 30) outTimes.shift();
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

// Over WebRTC the browser cannot see when the server got each camera frame, so the end-to-end
// latency is estimated: encode + network round trip + server (receive -> send) + jitter buffer + decode.
async function updateWebRTCLatency(msg) {
  const now = performance.now();
  if (!pc || now - lastStatsAt < 500) return;
  lastStatsAt = now;
  const report = await pc.getStats();
  let rtt = 0, jitter = 0, decode = 0, encode = 0;
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime) rtt = s.currentRoundTripTime * 1000;
    if (s.type === "inbound-rtp" && s.kind === "video") {
      if (s.jitterBufferEmittedCount) jitter = 1000 * s.jitterBufferDelay / s.jitterBufferEmittedCount;
      if (s.framesDecoded) decode = 1000 * s.totalDecodeTime / s.framesDecoded;
    }
    if (s.type === "outbound-rtp" && s.kind === "video" && s.framesEncoded) encode = 1000 * s.totalEncodeTime / s.framesEncoded;
  });
  showLatency(encode + rtt + msg.latency_ms + jitter + decode, true);
}

// -------------------------------------------------------------- session
async function start() {
  $("start").disabled = true;
  setStatus("starting…");
  let track;
  try { track = await openCamera(); } catch (e) {
    setStatus("no camera", "error"); say("camera: " + e.message, true); $("start").disabled = false; return;
  }
  const want = params.get("transport") || $("transport").value;
  $("transport").value = want;
  try {
    if (want === "ws") throw new Error("WebSocket chosen");
    await startWebRTC(track);
  } catch (e) {
    if (want === "webrtc") { setStatus("failed", "error"); say(e.message, true); $("start").disabled = false; return; }
    if (pc) { pc.close(); pc = null; dc = null; }
    if (want !== "ws") say("WebRTC unavailable (" + e.message + "), using WebSocket");
    try { await startWebSocket(); } catch (e2) {
      setStatus("failed", "error"); say(e2.message, true); $("start").disabled = false; return;
    }
  }
  setStatus(rtr.mode === "webrtc" ? "live · WebRTC" : "live · WebSocket", "live");
  for (const id of ["record", "pause", "reset"]) $(id).disabled = false;
  $("start").textContent = "Stop"; $("start").disabled = false;
  $("start").onclick = stop;
}

function stop() {
  stopCaptureLoop();
  if (recorder && recorder.state !== "inactive") recorder.stop();
  if (pc) pc.close(); if (ws) ws.close();
  if (camStream) camStream.getTracks().forEach((t) => t.stop());
  pc = dc = ws = camStream = null; rtr.connected = false; rtr.mode = null;
  setStatus("stopped");
  for (const id of ["record", "pause", "reset"]) $(id).disabled = true;
  $("start").textContent = "Start"; $("start").onclick = start;
}

// --------------------------------------------------------------- style
function applyPrompt(prompt) {
  prompt = prompt.trim();
  if (!prompt) { say("type a style first", true); return; }
  for (const b of $("presets").children) b.classList.toggle("active", b.dataset.prompt === prompt);
  if (sendJSON({ type: "style", prompt })) say("style: " + prompt);
}

// The model's own presets where it names them (the demo: its built-in styles), with the first as the starting
// style unless one was typed; else the general PRESETS.
async function loadPresets() {
  let presets = PRESETS;
  try {
    const r = await fetch("presets", { headers: authHeaders() });
    const got = r.ok ? (await r.json()).presets : [];
    if (got && got.length) {
      presets = got.map((p) => [p.name, p.prompt]);
      if ($("prompt").value === $("prompt").defaultValue) $("prompt").value = presets[0][1];
    }
  } catch (e) { /* an older server without /presets: the general ones */ }
  buildPresets(presets);
  rtr.presets = presets;
}

function buildPresets(presets) {
  for (const [name, prompt] of presets) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = name; b.dataset.prompt = prompt; b.setAttribute("role", "listitem");
    b.onclick = () => { $("prompt").value = prompt; applyPrompt(prompt); };
    $("presets").appendChild(b);
  }
}

// A reference image from the camera roll, scaled to at most 768 px and sent as base64 JPEG.
async function applyReference(file) {
  if (!file) return;
  const url = await referenceDataURL(file);
  if (!url) { say("cannot read that image", true); return; }
  $("refThumb").src = url; $("refThumb").hidden = false;
  for (const b of $("presets").children) b.classList.remove("active");
  if (sendJSON({ type: "style", reference: url.split(",")[1] })) say("style: reference image " + file.name);
}

// ------------------------------------------------------------ recording
function toggleRecord() {
  if (recorder && recorder.state === "recording") { recorder.stop(); return; }
  const stream = rtr.mode === "webrtc" ? $("outVideo").srcObject : $("outCanvas").captureStream(WS_MAX_FPS);
  if (!stream) { say("nothing to record yet", true); return; }
  const type = ["video/mp4;codecs=avc1", "video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"]
    .find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
  if (!type) { say("recording is not supported by this browser", true); return; }
  const chunks = [];
  recorder = new MediaRecorder(stream, { mimeType: type });
  recorder.ondataavailable = (ev) => { if (ev.data.size) chunks.push(ev.data); };
  recorder.onstop = () => {
    const blob = new Blob(chunks, { type: type.split(";")[0] });
    const ext = type.startsWith("video/mp4") ? "mp4" : "webm";
    const a = $("download");
    if (a.href) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(blob);
    a.download = "rtrdit-" + new Date().toISOString().replace(/[:.]/g, "-") + "." + ext;
    rtr.recording = { size: blob.size, type: blob.type, name: a.download };
    a.click();
    $("record").textContent = "Record"; $("record").classList.remove("on"); $("recDot").hidden = true;
    say("saved " + a.download + " (" + Math.round(blob.size / 1024) + " KB)");
  };
  recorder.start(250);
  $("record").textContent = "Stop rec"; $("record").classList.add("on"); $("recDot").hidden = false;
}

// ---------------------------------------------------------------- wiring
function swapViews() {
  const out = $("outView"), src = $("srcView");
  const outBig = out.classList.contains("big");
  out.className = "view " + (outBig ? "small" : "big");
  src.className = "view " + (outBig ? "big" : "small");
}

async function flipCamera() {
  rtr.facing = rtr.facing === "user" ? "environment" : "user";
  if (!camStream) return;
  try {
    const track = await openCamera();
    if (pc) { const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video") || pc.getSenders()[0]; await sender.replaceTrack(track); }
    say(rtr.facing === "user" ? "front camera" : "back camera");
  } catch (e) { say("camera: " + e.message, true); }
}

window.addEventListener("DOMContentLoaded", () => {
  $("outView").classList.add("big"); $("srcView").classList.add("small");
  $("outCanvas").hidden = true;
  loadPresets();
  if (params.get("transport")) $("transport").value = params.get("transport");
  $("controls").onsubmit = (ev) => { ev.preventDefault(); applyPrompt($("prompt").value); };
  $("start").onclick = start;
  $("refFile").onchange = (ev) => applyReference(ev.target.files[0]);
  $("flip").onclick = flipCamera;
  $("swap").onclick = swapViews;
  $("record").onclick = toggleRecord;
  $("pause").onclick = () => {
    paused = !paused;
    sendJSON({ type: "control", pause: paused });
    $("pause").textContent = paused ? "Resume" : "Pause"; $("pause").classList.toggle("on", paused);
  };
  $("reset").onclick = () => { sendJSON({ type: "control", reset: true }); say("cache reset"); };
  $("steps").onchange = () => { if ($("steps").value) sendJSON({ type: "control", steps: parseInt($("steps").value, 10) }); };
  if (params.get("autostart") === "1") start();
});
