// bench.mjs - measurements for bench/web.sh, in headless chromium.
//   node bench.mjs latency URL SECONDS PIN   the page's probe: change -> DOM
//        update latency (now - the value, which the region tool sets to the
//        wall clock in ms), and, as the peer, a page polling /api/pins every
//        500 ms the way polling dashboards do; prints JSON
//   node bench.mjs clients URL N SECONDS    N pages open for SECONDS; prints
//        the frames they got
import puppeteer from 'puppeteer-core';

const [mode, url, a, b, c] = process.argv.slice(2);
const pct = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] : NaN;
};
const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
         '--no-proxy-server', '--disable-background-networking',
         // background pages must not be throttled: they stand for browsers
         '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
         '--disable-backgrounding-occluded-windows'],
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// a socket chromium opened ahead and left idle may have been closed by the
// server's request timeout: load again, as a user would
async function load(page, u) {
  for (let k = 0; ; k++) {
    try { return await page.goto(u, { waitUntil: 'load', timeout: 30000 }); }
    catch (e) { if (k >= 2) throw e; await sleep(500); }
  }
}
try {
  if (mode === 'latency') {
    const secs = +a, pin = +b;
    const page = await browser.newPage();
    await load(page, `${url}/#keep,probe=${pin}`);
    await page.waitForSelector(`tr[data-name="pin.${pin}"]`, { timeout: 30000 });
    // the peer polls from here (same clock as the page: this machine)
    const plat = [];
    let last = null;
    const timer = setInterval(async () => {
      const j = await (await fetch(url + '/api/pins')).json();
      const v = j.pins[pin].v;
      if (last !== null && v !== last) plat.push(Date.now() - v);
      last = v;
    }, 500);
    await page.evaluate(() => { window.hmkProbe.lat = []; window.hmkProbe.chg = []; });
    await sleep(secs * 1000);
    const lat = await page.evaluate(() => window.hmkProbe.lat);
    // the same changes timed from the bridge's stamp of their cycle (bt)
    const blat = (await page.evaluate(() => window.hmkProbe.chg)).filter((x) => x.bt > 0).map((x) => x.dom - x.bt);
    clearInterval(timer);
    console.log(JSON.stringify({ n: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat),
                                 bt_n: blat.length, bt_p50: pct(blat, 50), bt_p99: pct(blat, 99),
                                 peer_n: plat.length, peer_p50: pct(plat, 50), peer_p99: pct(plat, 99) }));
  } else if (mode === 'clients') {
    const n = +a, secs = +b;
    const pages = [];
    // chromium keeps at most 6 HTTP/1.1 connections per host, and each
    // page's stream holds one: half the pages use the name "localhost"
    // (another host to the browser, the same server)
    const other = url.replace('127.0.0.1', 'localhost');
    for (let i = 0; i < n; i++) {
      const p = await browser.newPage();
      await load(p, (i % 2 ? other : url) + '/#keep');
      pages.push(p);
    }
    await Promise.all(pages.map((p) => p.waitForSelector('#link.ok', { timeout: 30000 })));
    const count = () => Promise.all(pages.map((p) => p.evaluate(() => window.hmkProbe.frames)));
    const f0 = await count();
    process.stdout.write('ready\n');
    await sleep(secs * 1000);
    const f1 = await count();
    console.log(JSON.stringify({ frames: f1.map((f, i) => f - f0[i]) }));
  }
} finally {
  await browser.close();
}
void c;
