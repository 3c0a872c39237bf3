// The dashboard: one EventSource to /api/events (a snapshot, then deltas
// of changed pins and status), plain DOM updates, writes by POST with the
// operator token in a header. No framework, no build step, no network
// beyond this server.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const rows = new Map();   // pin index -> { pin, tr, v, o, t }
  let pins = [];
  let plotPin = -1;
  let plotData = [];
  const PLOT_MAX = 300;
  // latency probe for bench/web.sh and the HAL browser test: #probe=IDX
  // records, for pin IDX, now - value (ms; bench/web.sh's pin carries the
  // wall clock) in lat, and every change with its bridge cycle (c), the
  // bridge's stamp of that cycle (bt, wall-clock ms) and when it was in
  // the DOM (dom) in chg
  const probe = /probe=(\d+)/.exec(location.hash);
  window.hmkProbe = { pin: probe ? +probe[1] : -1, lat: [], chg: [], frames: 0 };

  function fmt(v) {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
    return String(v);
  }
  function when(t) {
    if (!t) return '';
    const d = new Date(t);
    return d.toLocaleTimeString() + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }
  function showError(msg) {
    const e = $('error');
    e.textContent = msg;
    e.hidden = !msg;
  }

  function token() { return sessionStorage.getItem('hmk-token') || ''; }
  function showRole() { $('role').textContent = token() ? 'operator' : 'read-only'; }

  async function send(kind, name, value) {
    showError('');
    let res, body;
    try {
      const headers = { 'Content-Type': 'application/json' };
      if (token()) headers['X-HMK-Token'] = token();
      res = await fetch('/api/' + kind, { method: 'POST', headers, body: JSON.stringify({ pin: name, value }) });
      body = await res.json();
    } catch (err) {
      showError(kind + ' ' + name + ': ' + err);
      return;
    }
    if (!res.ok) showError(kind + ' ' + name + ' refused: ' + (body.error || res.status));
  }

  function setCell(p) {
    const td = document.createElement('td');
    td.className = 'set';
    if (p.o === undefined) return td;
    // controls only where this service may write (its writes = grant)
    if (!p.w) {
      td.textContent = 'not granted';
      td.classList.add('dim');
      return td;
    }
    const mk = (label, fn) => {
      const b = document.createElement('button');
      b.textContent = label;
      b.className = 'do-' + label.toLowerCase();
      b.addEventListener('click', (ev) => { ev.stopPropagation(); fn(); });
      td.appendChild(b);
    };
    if (p.type === 'bit') {
      mk('On', () => send('write', p.name, true));
      mk('Off', () => send('write', p.name, false));
      mk('Pulse', () => send('pulse', p.name, true));
    } else {
      const inp = document.createElement('input');
      inp.setAttribute('aria-label', 'value for ' + p.name);
      inp.addEventListener('click', (ev) => ev.stopPropagation());
      td.appendChild(inp);
      mk('Set', () => send('write', p.name, inp.value.trim()));
    }
    return td;
  }

  function buildTable(list) {
    const tb = $('pins').tBodies[0];
    tb.textContent = '';
    rows.clear();
    pins = list;
    for (const p of list) {
      const tr = document.createElement('tr');
      tr.id = 'pin-' + p.name;
      tr.dataset.name = p.name;
      if (p.type === 'float') {
        tr.className = 'float';
        tr.addEventListener('click', () => choosePlot(p.i));
      }
      const cell = (text, cls) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.appendChild(td);
        return td;
      };
      cell(p.name);
      cell(p.type);
      cell(p.dir);
      const v = cell(fmt(p.v), 'v');
      const o = cell(p.o === undefined ? '' : fmt(p.o), 'o');
      tr.appendChild(setCell(p));
      const t = cell(when(p.t), 't');
      tb.appendChild(tr);
      rows.set(p.i, { pin: p, tr, v, o, t });
    }
    applyFilter();
    if (plotPin >= 0 && !rows.has(plotPin)) plotPin = -1;
  }

  function update(d) {
    const r = rows.get(d.i);
    if (!r) return;
    r.pin.v = d.v;
    r.v.textContent = fmt(d.v);
    if (d.o !== undefined) r.o.textContent = fmt(d.o);
    r.t.textContent = when(d.t);
    r.tr.classList.add('flash');
    setTimeout(() => r.tr.classList.remove('flash'), 150);
    if (d.i === plotPin && typeof d.v === 'number') {
      plotData.push(d.v);
      if (plotData.length > PLOT_MAX) plotData.shift();
    }
    if (d.i === window.hmkProbe.pin) {
      const now = performance.timeOrigin + performance.now();
      if (typeof d.v === 'number') window.hmkProbe.lat.push(now - d.v);
      window.hmkProbe.chg.push({ c: d.c, v: d.v, bt: d.bt, dom: now });
    }
  }

  function applyFilter() {
    const f = $('filter').value.trim().toLowerCase();
    for (const r of rows.values()) r.tr.hidden = f !== '' && !r.pin.name.toLowerCase().includes(f);
  }

  function choosePlot(i) {
    if (plotPin >= 0 && rows.has(plotPin)) rows.get(plotPin).tr.classList.remove('sel');
    plotPin = i;
    plotData = [];
    const r = rows.get(i);
    r.tr.classList.add('sel');
    $('plot-name').textContent = r.pin.name;
    if (typeof r.pin.v === 'number') plotData.push(r.pin.v);
  }

  function drawPlot() {
    const c = $('plot'), g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    if (plotData.length > 1) {
      let lo = Math.min(...plotData), hi = Math.max(...plotData);
      if (hi === lo) { hi += 1; lo -= 1; }
      g.strokeStyle = '#1565c0';
      g.beginPath();
      plotData.forEach((v, k) => {
        const x = k * (c.width - 1) / (PLOT_MAX - 1);
        const y = c.height - 4 - (v - lo) * (c.height - 8) / (hi - lo);
        if (k) g.lineTo(x, y); else g.moveTo(x, y);
      });
      g.stroke();
      g.fillStyle = '#555';
      g.fillText(hi.toPrecision(6), 4, 12);
      g.fillText(lo.toPrecision(6), 4, c.height - 4);
    }
    requestAnimationFrame(drawPlot);
  }

  // a duration in ns, as the control tool shows it
  function ns(v) {
    if (v >= 1e9) return (v / 1e9).toFixed(2) + ' s';
    if (v >= 1e6) return (v / 1e6).toFixed(2) + ' ms';
    if (v >= 1e3) return (v / 1e3).toFixed(1) + ' \u00b5s';
    return v + ' ns';
  }

  function status(s) {
    const conn = $('conn');
    const state = !s.attached ? 'absent' : s.connected ? 'connected' : 'disconnected';
    conn.dataset.state = state;
    conn.textContent = state === 'connected' ? 'HAL connected'
      : state === 'absent' ? 'HAL: no region (LinuxCNC not running?)' : 'HAL disconnected';
    conn.className = 'badge ' + (state === 'connected' ? 'ok' : 'bad');
    $('fault').hidden = !s.fault;
    $('meta').textContent = 'clients ' + s.clients + ', dropped ' + s.dropped +
      (s.stream ? ', change stream' : ', snapshots');
    const tb = $('svcs').tBodies[0];
    tb.textContent = '';
    $('svc-none').hidden = s.services !== null;
    for (const v of s.services || []) {
      const tr = document.createElement('tr');
      // reaction times (hal-microkernelctl stats): how many, how many
      // missed the service's deadline, and the bucket p99 falls in
      const st = v.stats;
      const cells = [v.name, v.state, v.restarts, v.last_exit,
        st ? st.count : '-', st && st.deadline_ns ? st.misses : '-',
        st && st.count ? '\u2264 ' + ns(st.p99_le_ns) : '-'];
      cells.forEach((x, k) => {
        const td = document.createElement('td');
        td.textContent = x;
        if (k === 5 && st && st.misses > 0) td.className = 'miss';
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    }
  }

  // A browser keeps at most 6 HTTP/1.1 connections to one server and each
  // open stream holds one: a hidden tab lets go of its stream, and starts
  // again from a snapshot when it is shown.
  let es = null;
  // (#keep keeps it: bench/web.sh's background pages stand for browsers)
  const keep = /keep/.test(location.hash);
  document.addEventListener('visibilitychange', () => {
    if (keep) return;
    if (document.hidden && es) { es.close(); es = null; $('link').textContent = 'stream: paused (tab hidden)'; }
    else if (!document.hidden && !es) connect();
  });

  function connect() {
    es = new EventSource('/api/events');
    es.addEventListener('open', () => { $('link').textContent = 'stream: live'; $('link').className = 'badge ok'; });
    es.addEventListener('error', () => {
      // EventSource reconnects by itself; the server starts again with a snapshot
      $('link').textContent = 'stream: reconnecting';
      $('link').className = 'badge bad';
      const conn = $('conn');
      conn.dataset.state = 'unknown';
      conn.textContent = 'HAL: unknown (service unreachable)';
      conn.className = 'badge bad';
    });
    es.addEventListener('snapshot', (ev) => {
      const s = JSON.parse(ev.data);
      buildTable(s.pins);
      status(s.status);
      window.hmkProbe.frames++;
    });
    es.addEventListener('delta', (ev) => {
      const d = JSON.parse(ev.data);
      for (const p of d.pins) update(p);
      window.hmkProbe.frames++;
    });
    es.addEventListener('status', (ev) => status(JSON.parse(ev.data)));
  }

  $('filter').addEventListener('input', applyFilter);
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem('hmk-token', t); else sessionStorage.removeItem('hmk-token');
    $('token').value = '';
    showRole();
  });
  showRole();
  connect();
  requestAnimationFrame(drawPlot);
})();
