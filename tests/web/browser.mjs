// browser.mjs - the dashboard in a real browser: Debian's chromium,
// headless, driven by puppeteer-core. Environment: URL (halweb), TOKEN
// (operator token), RT (hmk-web-region), REGION, BEAT_PID (its heartbeat
// process, killed to play a lost daemon), ARTIFACTS (screenshot dir).
// The service runs with HMK_WRITE_PINS=pin.2 and a heartbeat.
import { execFileSync } from 'node:child_process';
import puppeteer from 'puppeteer-core';

const { URL, TOKEN, RT, REGION, ARTIFACTS } = process.env;
const LONG = 30000; // generous: a loaded 2-vCPU VM
const rt = (...a) => execFileSync(RT, a, { encoding: 'utf8' }).trim();
const fail = (msg) => { console.error('FAIL: ' + msg); process.exitCode = 1; throw new Error(msg); };
async function waitOut(idx, want) {
  const end = Date.now() + LONG;
  while (Date.now() < end) {
    if (rt('out', REGION, String(idx)) === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(`pin ${idx} out never became ${want} (is ${rt('out', REGION, String(idx))})`);
}
const cellText = (page, name, cls) =>
  page.$eval(`tr[data-name="${name}"] td.${cls}`, (td) => td.textContent);

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
         '--no-proxy-server', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(URL)) external.push(r.url()); });
  await page.setViewport({ width: 1200, height: 600 });
  await page.goto(URL + '/', { waitUntil: 'load', timeout: LONG });

  // the connected indicator
  await page.waitForSelector('#conn[data-state="connected"]', { timeout: LONG });
  console.log('connected indicator: ' + await page.$eval('#conn', (e) => e.textContent));

  // a change made through the region shows up in the page
  await page.waitForSelector('tr[data-name="pin.1"]', { timeout: LONG });
  const t0 = Date.now();
  rt('set', REGION, '1', '12.5');
  await page.waitForFunction(() => document.querySelector('tr[data-name="pin.1"] td.v').textContent === '12.5',
                             { timeout: LONG });
  console.log(`pin.1 = 12.5 on screen ${Date.now() - t0} ms after the region changed`);

  // filter by name
  await page.type('#filter', 'pin.1');
  if (!(await page.$eval('tr[data-name="pin.2"]', (e) => e.hidden))) fail('filter did not hide pin.2');
  await page.$eval('#filter', (e) => { e.value = ''; e.dispatchEvent(new Event('input')); });

  // plot: click a float pin, feed it a few values
  await page.click('tr[data-name="pin.1"]');
  for (const v of ['1', '3', '2', '5']) rt('set', REGION, '1', v);
  await page.waitForFunction(() => document.querySelector('#plot-name').textContent === 'pin.1', { timeout: LONG });

  // read-only role: a click is refused with a visible error, nothing changes
  await page.type('tr[data-name="pin.2"] td.set input', '4.5');
  await page.click('tr[data-name="pin.2"] button.do-set');
  await page.waitForSelector('#error:not([hidden])', { timeout: LONG });
  const ro = await page.$eval('#error', (e) => e.textContent);
  if (!/read-only role/.test(ro)) fail('read-only refusal says: ' + ro);
  console.log('read-only click refused: ' + ro);
  if (rt('out', REGION, '2') !== '0') fail('a refused click wrote pin.2');

  // operator: a granted pin is written...
  await page.type('#token', TOKEN);
  await page.click('#login-btn');
  await page.waitForFunction(() => document.querySelector('#role').textContent === 'operator', { timeout: LONG });
  await page.click('tr[data-name="pin.2"] button.do-set');
  await waitOut(2, '4.5');
  await page.waitForFunction(() => document.querySelector('tr[data-name="pin.2"] td.o').textContent === '4.5',
                             { timeout: LONG });
  if (!(await page.$eval('#error', (e) => e.hidden))) fail('error still shown after a good write');
  console.log('operator click wrote pin.2 = 4.5 (region and page agree)');

  // ...an ungranted one has no controls at all (the service is not
  // granted it: hmk_write_granted), and the API refuses it (web_http)
  const ng = await page.$eval('tr[data-name="pin.3"] td.set', (td) => ({
    text: td.textContent, controls: td.querySelectorAll('button, input').length }));
  if (ng.controls !== 0 || ng.text !== 'not granted') fail('ungranted pin.3 shows controls: ' + JSON.stringify(ng));
  console.log('ungranted pin.3: no controls, says "' + ng.text + '"');

  await page.screenshot({ path: `${ARTIFACTS}/halweb.png` });
  console.log(`screenshot: ${ARTIFACTS}/halweb.png`);

  // the daemon goes away: the indicator says so
  process.kill(Number(process.env.BEAT_PID), 'SIGTERM');
  await page.waitForSelector('#conn[data-state="disconnected"]', { timeout: LONG });
  await page.waitForSelector('#fault:not([hidden])', { timeout: LONG });
  console.log('disconnected indicator: ' + await page.$eval('#conn', (e) => e.textContent));
  if (external.length) fail('the page asked for something elsewhere: ' + external.join(' '));
} finally {
  await browser.close();
}
