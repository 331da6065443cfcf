"""The interop matrix: this library, upstream's Rust library (the one the
PyPI wheel bundles) and a browser (livekit-client in headless Chromium),
each pair in a room of a real livekit-server on loopback, both ways: join,
data, RPC, text and byte streams, audio, video. Writes the table to
OUT_DIR/interop.md and a screenshot of the browser showing this library's
video to OUT_DIR/interop.png; exits non-zero if a cell with this library
fails. A cell without it (upstream's or the browser's with their own
kind or each other) is the test bed's reference: its failure is reported
in the table and printed, but it says nothing of this library, so it
does not fail the run (upstream x upstream once lost its data packet in
CI, after 25 s to join).

    matrix.py OUT_DIR      (scripts/interop.sh sets the environment:)
      LK_TESTBED_SERVER    livekit-server binary
      LIVEKIT_FFI_OURS     our liblivekit_ffi.so
      LK_INTEROP_CLIENT    livekit-client's dist/livekit-client.umd.js
      LK_INTEROP_CHROMIUM  the browser (default: chromium)
"""
import asyncio
import base64
import datetime
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import aiohttp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "room"))
from testbed import OURS, UPSTREAM, LiveKitServer, peer_env, stop_process  # noqa: E402

import spec  # noqa: E402

BROWSER = "browser"
KINDS = (OURS, UPSTREAM, BROWSER)
LABEL = {OURS: "this library (C)", UPSTREAM: "upstream's Rust library",
         BROWSER: "browser (livekit-client)"}
PAIRS = [(a, b) for i, a in enumerate(KINDS) for b in KINDS[i:]]
PAIR_BOUND_S = 4 * spec.BOUND_S


# --- the page, served from loopback -------------------------------------------------

def serve_page(client_js):
    """The page's folder, and livekit-client's bundle beside it."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            if path.split("?")[0] == "/livekit-client.umd.js":
                return client_js
            return super().translate_path(path)

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=os.path.join(HERE, "page"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


# --- the browser, through the DevTools protocol -------------------------------------

class Browser:
    """Headless Chromium driven over its DevTools socket: one tab per
    browser participant, each its own CDP session."""

    FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--mute-audio", "--autoplay-policy=no-user-gesture-required",
             # the server's ICE candidates and ours are on loopback
             "--allow-loopback-in-peer-connection",
             "--disable-features=WebRtcHideLocalIpsWithMdns",
             # a tab in the background keeps its timers (the canvas draws)
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows",
             "--window-size=900,640", "--remote-debugging-port=0"]

    async def start(self, binary):
        self.dir = tempfile.mkdtemp(prefix="lkffi-chromium-")
        self.log = open(os.path.join(self.dir, "chromium.log"), "w")
        self.proc = subprocess.Popen([binary, *self.FLAGS, f"--user-data-dir={self.dir}",
                                      "about:blank"], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        port_file = os.path.join(self.dir, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) or len(open(port_file).read().split()) < 2:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: see {self.log.name}")
            await asyncio.sleep(0.1)
        port, path = open(port_file).read().split()[:2]
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self.next_id = 0
        self.pending = {}
        self.console = []
        self.reader = asyncio.ensure_future(self.read())
        self.version = (await self.call("Browser.getVersion"))["product"]
        return self

    async def read(self):
        async for msg in self.ws:
            m = json.loads(msg.data)
            if "id" in m and m["id"] in self.pending:
                self.pending.pop(m["id"]).set_result(m)
            elif m.get("method") == "Runtime.consoleAPICalled":
                args = m["params"]["args"]
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in args))

    async def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = self.pending[self.next_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(json.dumps(msg))
        m = await asyncio.wait_for(fut, timeout)
        if "error" in m:
            raise RuntimeError(f"{method}: {m['error']}")
        return m["result"]

    async def open_tab(self, url):
        # a window each: a tab behind another renders no video frames
        target = (await self.call("Target.createTarget",
                                  {"url": "about:blank", "newWindow": True}))["targetId"]
        session = (await self.call("Target.attachToTarget",
                                   {"targetId": target, "flatten": True}))["sessionId"]
        await self.call("Runtime.enable", session=session)
        await self.call("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + 30
        while await self.eval(session, "typeof runPeer") != "function":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the page did not load: {url}")
            await asyncio.sleep(0.1)
        return target, session

    async def eval(self, session, expr, timeout=30):
        r = await self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                                 "returnByValue": True},
                            session=session, timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:60]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def close_tab(self, target):
        await self.call("Target.closeTarget", {"targetId": target})

    async def screenshot(self, session, path):
        shot = await self.call("Page.captureScreenshot", {"format": "png"}, session=session)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    async def stop(self):
        self.reader.cancel()
        await self.ws.close()
        await self.http.close()
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- participants ---------------------------------------------------------------

async def python_peer(kind, url, token, peer):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, os.path.join(HERE, "py_peer.py"), url, token, peer, env=peer_env(kind),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), PAIR_BOUND_S)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return {"error": f"{kind} peer overran {PAIR_BOUND_S} s", "seen": {}}
    lines = out.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        return {"error": f"{kind} peer exited {proc.returncode}: " + " / ".join(tail), "seen": {}}
    report = json.loads(lines[-1])
    if report["error"] or report.get("missing"):  # what the library said, for the reader
        report["stderr"] = err.decode(errors="replace").strip().splitlines()[-10:]
    return report


async def browser_peer(browser, page_url, url, token, peer, peer_kind, shot=None):
    target, session = await browser.open_tab(page_url)
    try:
        if shot:  # hold the room until the picture is taken
            await browser.eval(session, """window.beforeDone = async () => {
                window.readyForShot = true;
                const until = Date.now() + 10000;
                while (!window.shotTaken && Date.now() < until)
                    await new Promise((r) => setTimeout(r, 50)); }""")
        run = asyncio.ensure_future(browser.eval(
            session, f"runPeer({json.dumps(spec.page_spec())}, {json.dumps(url)}, "
                     f"{json.dumps(token)}, {json.dumps(peer)}, {json.dumps(LABEL[peer_kind])})",
            timeout=PAIR_BOUND_S))
        if shot:
            deadline = time.monotonic() + PAIR_BOUND_S
            while not run.done() and time.monotonic() < deadline:
                if await browser.eval(session, "!!window.readyForShot"):
                    await asyncio.sleep(0.5)  # a few more frames on screen
                    await browser.screenshot(session, shot)
                    await browser.eval(session, "window.shotTaken = true")
                    break
                await asyncio.sleep(0.2)
        try:
            return await run
        except (RuntimeError, asyncio.TimeoutError) as e:
            return {"error": f"browser: {e}", "seen": {}}
        finally:
            try:
                await browser.eval(session, "leave()")
            except (RuntimeError, asyncio.TimeoutError):
                pass  # the tab goes next, and the room with it
    finally:
        await browser.close_tab(target)


async def run_pair(server, browser, page_url, a, b, shot):
    room = f"interop-{a}-{b}"
    ids = (f"{a}-1", f"{b}-2") if a == b else (a, b)

    def start(kind, me, peer, peer_kind):
        token = server.token(me, room=room)
        if kind == BROWSER:
            return browser_peer(browser, page_url, server.url, token, peer, peer_kind,
                                shot if peer_kind == OURS else None)
        return python_peer(kind, server.url, token, peer)

    ra, rb = await asyncio.gather(start(a, ids[0], ids[1], b), start(b, ids[1], ids[0], a))
    return ra, rb


# --- the table ------------------------------------------------------------------

def cell(sender_report, receiver_report, capability):
    """(works, detail) for what the receiver saw of the sender (the RPC:
    the sender's call answered by the receiver)."""
    report = sender_report if capability == "rpc" else receiver_report
    seen = report.get("rpc", {}) if capability == "rpc" else report["seen"].get(capability, {})
    if seen.get("ok"):
        return True, seen
    if report.get("error"):
        return False, {"error": report["error"]}
    return False, seen or {"error": "nothing arrived"}


def directed(results):
    """{(sender, receiver): [(sender report, receiver report)]}: a pair of
    one kind gives two looks at the same row."""
    rows = {}
    for (a, b), (ra, rb) in results.items():
        rows.setdefault((a, b), []).append((ra, rb))
        rows.setdefault((b, a), []).append((rb, ra))
    return rows


def table(results):
    rows = directed(results)
    lines = ["| sender → receiver | " + " | ".join(spec.CAPABILITIES) + " |",
             "|---|" + "---|" * len(spec.CAPABILITIES)]
    failures = []
    for s in KINDS:
        for r in KINDS:
            cells = []
            for cap in spec.CAPABILITIES:
                looks = [cell(sr, rr, cap) for sr, rr in rows[(s, r)]]
                if all(ok for ok, _ in looks):
                    cells.append("works")
                else:
                    why = next(d for ok, d in looks if not ok)
                    cells.append("**fails**: " + json.dumps(why)[:120].replace("|", "\\|"))
                    failures.append((s, r, cap, why))
            lines.append(f"| {s} → {r} | " + " | ".join(cells) + " |")
    return "\n".join(lines), failures


def details(results):
    """What each side measured: the audio's level and frequency, the video's
    size, the streams' chunks."""
    lines = ["| sender → receiver | audio heard | video seen | text stream | byte stream |",
             "|---|---|---|---|---|"]
    for (s, r), looks in sorted(directed(results).items()):
        for _, rr in looks[:1]:
            seen = rr["seen"]
            a, v = seen.get("audio", {}), seen.get("video", {})
            t, b = seen.get("text", {}), seen.get("bytes", {})
            lines.append(
                f"| {s} → {r} | {a.get('peak_hz', '-')} Hz at {a.get('level_dbfs', '-')} dBFS"
                f" | {v.get('width', '-')}×{v.get('height', '-')}, {v.get('frames', 0)} frames"
                f" | {t.get('bytes', 0)} B | {b.get('bytes', 0)} B"
                f"{', %d chunks' % b['chunks'] if 'chunks' in b else ''} |")
    return "\n".join(lines)


def versions(browser):
    from importlib.metadata import version
    def git(*args):
        return subprocess.run(["git", "-C", HERE, *args], capture_output=True,
                              text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # the tables this run writes into docs/ do not make the library dirty
    if git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":(exclude,top)docs"):
        head += " with uncommitted changes"
    package = os.path.join(os.path.dirname(os.environ["LK_INTEROP_CLIENT"]), "..", "package.json")
    with open(package) as f:
        client = json.load(f)["version"]
    return [f"this library: commit {head}",
            f"upstream: PyPI livekit {version('livekit')} (its bundled liblivekit_ffi)",
            f"browser: {browser.version}, npm livekit-client {client}",
            "server: livekit-server " + os.path.basename(
                os.path.dirname(os.environ["LK_TESTBED_SERVER"])).split("-")[-1]]


def write_report(out_dir, results, browser, took_s):
    body, failures = table(results)
    text = "\n".join([
        "# Interop matrix",
        "",
        f"Generated by `scripts/interop.sh` (`tests/interop/matrix.py`) on {datetime.date.today()},",
        f"in {took_s:.0f} s; CI runs the same in every pass. Each pair of participants",
        "joins one room of a livekit-server on loopback; each participant",
        "publishes a 440 Hz tone and a moving picture, sends its peer a",
        "reliable data packet, an RPC call, a text stream (about 30 kB, with",
        "two-byte characters) and a byte stream (200 kB), both with attributes,",
        "and waits for the same from its peer. A row is one direction: what",
        "the receiver got from the sender (for RPC: the sender's call answered",
        "by the receiver). A pair of one kind is two participants of that kind.",
        "",
        "- " + "\n- ".join(versions(browser)),
        "- the Python participants run the upstream SDK unchanged "
        "(`tests/interop/py_peer.py`); the browser's is a page on livekit-client "
        "(`tests/interop/page/`)",
        "",
        body,
        "",
        "## What each receiver measured",
        "",
        "Audio: the strongest frequency of a second of the peer's track and its",
        f"level (heard: within {spec.TONE_TOLERANCE_HZ} Hz of {spec.TONE_HZ} Hz, above "
        f"{spec.MIN_LEVEL_DBFS} dBFS). Video: frames until {spec.MIN_VIDEO_FRAMES} arrived.",
        "",
        details(results),
        "",
        "![the browser showing this library's video](interop.png)",
        "",
    ])
    with open(os.path.join(out_dir, "interop.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "interop.json"), "w") as f:
        json.dump({f"{a}|{b}": r for (a, b), r in results.items()}, f, indent=1)
    return failures


async def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    httpd = serve_page(os.environ["LK_INTEROP_CLIENT"])
    page_url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    shot = os.path.join(out_dir, "interop.png")
    if os.path.exists(shot):
        os.remove(shot)  # no picture from an older run under this run's table
    browser = await Browser().start(os.environ.get("LK_INTEROP_CHROMIUM", "chromium"))
    t0 = time.monotonic()
    results = {}
    try:
        with LiveKitServer() as server:
            for a, b in PAIRS:
                t = time.monotonic()
                results[(a, b)] = await run_pair(server, browser, page_url, a, b, shot)
                print(f"{a} × {b}: {time.monotonic() - t:.1f} s", flush=True)
    finally:
        await browser.stop()
        httpd.shutdown()
    failures = write_report(out_dir, results, browser, time.monotonic() - t0)
    ours = [f for f in failures if OURS in f[:2]]
    for s, r, cap, why in failures:
        print(f"{'FAIL' if OURS in (s, r) else 'FAIL (reference, not ours)'} {s} → {r} {cap}: "
              f"{why}")
    if failures and browser.console:
        print("browser console (last lines):\n  " + "\n  ".join(browser.console[-20:]))
    print(open(os.path.join(out_dir, "interop.md")).read())
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
