// The browser's participant of the interop matrix: livekit-client as a web
// page uses it, doing what ../py_peer.py does (the steps are in ../spec.py,
// which the driver hands over as `spec`). runPeer resolves to the same
// report py_peer.py prints.
'use strict';

const LK = window.LivekitClient;

function log(line) {
  document.getElementById('log').textContent += line + '\n';
}

function dataPayload(s, sender) { return `data from ${sender}`; }
function rpcPayload(s, caller) { return `rpc from ${caller}`; }
function rpcAnswer(s, payload) { return 'echo: ' + payload; }

function textPayload(s, sender) {
  const lines = [];
  for (let i = 0; i < s.TEXT_LINES; i++) {
    lines.push(`${String(i).padStart(5, '0')} text from ${sender}, grüße\n`);
  }
  return lines.join('');
}

function bytesPayload(s) {
  const b = new Uint8Array(s.BYTES_LEN);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameAttrs(a, b) {
  const ka = Object.keys(a || {}).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function until(cond, boundS) {
  const deadline = Date.now() + boundS * 1000;
  while (!cond() && Date.now() < deadline) await sleep(50);
}

// A 440 Hz tone from an oscillator and a moving canvas: what the Python
// peers publish, made the way a web page makes them.
function makeTracks(s, audioCtx) {
  const osc = audioCtx.createOscillator();
  osc.frequency.value = s.TONE_HZ;
  const gain = audioCtx.createGain();
  gain.gain.value = Math.pow(10, s.TONE_DBFS / 20);
  const dest = audioCtx.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  osc.start();

  const canvas = document.createElement('canvas');
  canvas.width = 320;
  canvas.height = 240;
  const g = canvas.getContext('2d');
  let n = 0;
  const timer = setInterval(() => {
    g.fillStyle = '#3050a0';
    g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#f0c040';
    g.fillRect((n * 4) % 280, 100, 40, 40);
    g.fillStyle = '#fff';
    g.font = '20px sans-serif';
    g.fillText(`browser frame ${n}`, 10, 30);
    n++;
  }, 1000 / 15);
  const video = canvas.captureStream(15).getVideoTracks()[0];
  const preview = document.createElement('video');
  preview.muted = true;
  preview.autoplay = true;
  preview.srcObject = new MediaStream([video]);
  tile('this page\'s own camera (a canvas)', preview);
  return { audio: dest.stream.getAudioTracks()[0], video,
           stop: () => { clearInterval(timer); osc.stop(); } };
}

function tile(label, el) {
  const div = document.createElement('div');
  div.className = 'tile';
  div.appendChild(el);
  const cap = document.createElement('div');
  cap.textContent = label;
  div.appendChild(cap);
  document.getElementById('tiles').appendChild(div);
}

// Heard once the tone is the strongest frequency, loud enough.
async function hear(s, track, audioCtx, seen, got) {
  const el = track.attach();  // Chrome gives WebAudio a remote track's samples only while it plays
  el.muted = true;
  document.body.appendChild(el);
  const src = audioCtx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
  const an = audioCtx.createAnalyser();
  an.fftSize = 8192;
  src.connect(an);
  const freq = new Float32Array(an.frequencyBinCount);
  const time = new Float32Array(an.fftSize);
  for (;;) {
    await sleep(200);
    an.getFloatFrequencyData(freq);
    an.getFloatTimeDomainData(time);
    let peak = 0;
    for (let i = 1; i < freq.length; i++) if (freq[i] > freq[peak]) peak = i;
    const peakHz = peak * audioCtx.sampleRate / an.fftSize;
    let sum = 0;
    for (const v of time) sum += v * v;
    const level = 20 * Math.log10(Math.sqrt(sum / time.length) + 1e-9);
    seen.audio = { level_dbfs: Math.round(level * 10) / 10, peak_hz: Math.round(peakHz * 10) / 10 };
    if (level > s.MIN_LEVEL_DBFS && Math.abs(peakHz - s.TONE_HZ) <= s.TONE_TOLERANCE_HZ) {
      seen.audio.ok = true;
      got('audio');
      return;
    }
  }
}

function watch(s, track, label, seen, got) {
  const el = track.attach();
  el.muted = true;
  tile(label, el);
  let frames = 0;
  const onFrame = () => {
    frames++;
    seen.video = { frames, width: el.videoWidth, height: el.videoHeight };
    if (frames >= s.MIN_VIDEO_FRAMES && el.videoWidth > 0) {
      seen.video.ok = true;
      got('video');
    }
    el.requestVideoFrameCallback(onFrame);
  };
  el.requestVideoFrameCallback(onFrame);
}

async function runPeer(s, url, token, peer, peerLabel) {
  const out = { error: null, seen: {} };
  const seen = out.seen;
  const audioCtx = new AudioContext();
  const room = new LK.Room({ adaptiveStream: false, dynacast: false });
  window.lkRoom = room;
  const waiting = new Set(s.RECEIVED);
  let allGot;
  const allGotP = new Promise((r) => { allGot = r; });
  const got = (what) => { waiting.delete(what); if (waiting.size === 0) allGot(); };
  const stateOf = (id) => {
    const p = room.remoteParticipants.get(id);
    return p ? p.attributes[s.STATE] : undefined;
  };
  let tracks = null;
  try {
    room.on(LK.RoomEvent.ParticipantConnected, (p) => {
      if (p.identity === peer) { seen.join = { ok: true }; got('join'); }
    });
    room.on(LK.RoomEvent.DataReceived, (payload, p, kind, topic) => {
      if (p && p.identity === peer && topic === s.DATA_TOPIC) {
        const text = new TextDecoder().decode(payload);
        seen.data = { ok: text === dataPayload(s, peer), bytes: payload.length };
        got('data');
      }
    });
    room.on(LK.RoomEvent.TrackSubscribed, (track, pub, p) => {
      if (p.identity !== peer) return;
      if (track.kind === 'audio') hear(s, track, audioCtx, seen, got);
      else if (track.kind === 'video') watch(s, track, `video from ${peerLabel}`, seen, got);
    });
    room.registerTextStreamHandler(s.TEXT_TOPIC, async (reader, from) => {
      const text = await reader.readAll();
      seen.text = { ok: text === textPayload(s, from.identity) &&
                        sameAttrs(reader.info.attributes, s.STREAM_ATTRS),
                    bytes: new TextEncoder().encode(text).length,
                    attributes: reader.info.attributes };
      got('text');
    });
    room.registerByteStreamHandler(s.BYTES_TOPIC, async (reader) => {
      const chunks = await reader.readAll();
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const all = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) { all.set(c, at); at += c.length; }
      seen.bytes = { ok: sameBytes(all, bytesPayload(s)) &&
                         sameAttrs(reader.info.attributes, s.STREAM_ATTRS),
                     bytes: total, chunks: chunks.length, attributes: reader.info.attributes };
      got('bytes');
    });
    room.localParticipant.registerRpcMethod(s.RPC_METHOD, async (inv) => rpcAnswer(s, inv.payload));

    await room.connect(url, token, { autoSubscribe: true });
    const me = room.localParticipant.identity;
    document.getElementById('title').textContent =
      `browser participant "${me}" (livekit-client ${LK.version}) with "${peer}" (${peerLabel})`;
    log(`connected to ${room.name}`);
    for (const p of room.remoteParticipants.values()) {
      if (p.identity === peer) { seen.join = { ok: true }; got('join'); }
    }

    await audioCtx.resume();
    tracks = makeTracks(s, audioCtx);
    await room.localParticipant.publishTrack(tracks.audio,
      { source: LK.Track.Source.Microphone, name: 'tone' });
    await room.localParticipant.publishTrack(tracks.video,
      { source: LK.Track.Source.Camera, name: 'pattern' });
    log('published tone and pattern');

    await room.localParticipant.setAttributes({ [s.STATE]: s.READY });
    await until(() => [s.READY, s.DONE].includes(stateOf(peer)), s.BOUND_S);
    const lp = room.localParticipant;
    await lp.publishData(new TextEncoder().encode(dataPayload(s, me)),
                         { reliable: true, topic: s.DATA_TOPIC });
    try {
      const answer = await lp.performRpc({ destinationIdentity: peer, method: s.RPC_METHOD,
                                           payload: rpcPayload(s, me) });
      out.rpc = { ok: answer === rpcAnswer(s, rpcPayload(s, me)), answer };
    } catch (e) {
      out.rpc = { ok: false, error: String(e.message || e) };
    }
    await lp.sendText(textPayload(s, me), { topic: s.TEXT_TOPIC, attributes: s.STREAM_ATTRS });
    const writer = await lp.streamBytes({ name: 'interop.bin', topic: s.BYTES_TOPIC,
                                          attributes: s.STREAM_ATTRS });
    await writer.write(bytesPayload(s));
    await writer.close();
    log('sent data, rpc, text, bytes');

    await Promise.race([allGotP, sleep(s.RECEIVE_S * 1000)]);
    if (waiting.size) out.missing = [...waiting].sort();
    for (const what of s.RECEIVED) {
      const r = seen[what];
      log(`${what} from ${peer}: ${r && r.ok ? 'works' : 'FAILS'} ${r ? JSON.stringify(r) : ''}`);
    }
    log(`rpc to ${peer}: ${out.rpc && out.rpc.ok ? 'works' : 'FAILS'} ${JSON.stringify(out.rpc)}`);
    if (window.beforeDone) await window.beforeDone();
    await lp.setAttributes({ [s.STATE]: s.DONE });
    await until(() => [s.DONE, undefined].includes(stateOf(peer)), s.RECEIVE_S);
  } catch (e) {
    out.error = `${e.name}: ${e.message}`;
  }
  if (tracks) tracks.stop();
  return out;
}

async function leave() {
  if (window.lkRoom) await window.lkRoom.disconnect();
}
