// The dashboard's script (served at /ui/app.js): asks for the API token (or takes it from the URL
// fragment #token=..., which never reaches the server), then reads the API with
// `Authorization: Bearer` and follows GET /events?rates=true through fetch() streaming, so the
// token is never put in a URL. Renders switches, links, tunnels, networks, attachments and one
// uPlot chart per channel (rate passed, offered, limit), and sets a channel's rate by PATCH.
// Every name from the API goes in through textContent, never as HTML.
'use strict';
(() => {
  const TOKEN_KEY = 'sluice-api-token';
  const WINDOW_S = 120;            // seconds of samples each chart keeps
  const REFRESH_MIN_MS = 500;      // events that change the picture refresh it at most this often

  /** @type {string | null} */
  let token = null;
  let streamAbort = null;
  /** @type {Map<string, {card: HTMLElement, plot: any, xs: number[], rate: number[], offered: number[], limit: number[], unit: string}>} */
  const charts = new Map();
  let lastRefresh = 0, refreshTimer = null, refreshing = null;

  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  /** A DOM element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = String(v); else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function fmtRate(v, unit) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    const u = unit === 'pkt' ? 'pps' : 'bit/s';
    const a = Math.abs(v);
    if (a >= 1e9) return `${(v / 1e9).toFixed(2)} G${u}`;
    if (a >= 1e6) return `${(v / 1e6).toFixed(2)} M${u}`;
    if (a >= 1e3) return `${(v / 1e3).toFixed(1)} k${u}`;
    return `${v.toFixed(0)} ${u}`;
  }

  /** Axis ticks: short (no trailing zeros), so they fit beside the plot. */
  function fmtAxis(v, unit) {
    const u = unit === 'pkt' ? 'pps' : 'bit/s';
    const a = Math.abs(v);
    const [d, p] = a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
    return `${Number((v / d).toPrecision(3))} ${p}${u}`;
  }

  // ------------------------------------------------------------------ the token

  function takeToken() {
    const m = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);   // out of the address bar and history
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function showLogin(why) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    streamAbort?.abort();
    $('main').hidden = true;
    $('forget').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = why || '';
    setStatus('not connected', false);
  }

  function setStatus(text, live) {
    const s = $('status');
    s.textContent = text;
    s.classList.toggle('live', live);
  }

  class AuthError extends Error {}

  async function api(method, path, body) {
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    const text = await res.text();
    let data;
    try { data = JSON.parse(text); } catch { data = undefined; }
    if (res.status === 401) throw new AuthError('the controller refused the token');
    if (!res.ok) throw new Error(data && data.message ? data.message : `${method} ${path}: HTTP ${res.status}`);
    return data;
  }

  // ------------------------------------------------------------------ the picture

  function refreshSoon() {
    if (refreshTimer !== null) return;
    const wait = Math.max(0, lastRefresh + REFRESH_MIN_MS - Date.now());
    refreshTimer = setTimeout(() => { refreshTimer = null; void refresh(); }, wait);
  }

  async function refresh() {
    if (refreshing) { refreshSoon(); return refreshing; }
    lastRefresh = Date.now();
    refreshing = (async () => {
      try {
        const [sw, topo, nets, atts, chans] = await Promise.all([
          api('GET', '/v1/switches'), api('GET', '/v1/topology'), api('GET', '/v1/networks'), api('GET', '/v1/attachments'), api('GET', '/v1/channels'),
        ]);
        renderSwitches(sw.switches);
        renderLinks(topo.links);
        renderNetworks(nets.networks, atts.attachments);
        renderAttachments(atts.attachments);
        renderChannels(chans.channels);
      } catch (e) {
        if (e instanceof AuthError) showLogin(e.message);
        else setStatus(`error: ${e.message}`, false);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  function fill(tableId, rows, emptyText, cols) {
    const body = $(tableId).querySelector('tbody');
    body.replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: cols, class: 'empty' }, emptyText))]));
  }

  function renderSwitches(list) {
    fill('switches', list.map((s) => el('tr', { 'data-switch': s.name },
      el('td', {}, s.name),
      el('td', {}, s.dpid),
      el('td', { class: s.connected ? 'up' : 'down' }, s.connected ? 'connected' : 'gone'),
      el('td', {}, s.ports.map((p) => el('span', { class: `port ${p.up ? '' : 'down'}` },
        `${p.name} (${p.number}) ${p.role}${p.network ? ` ${p.network}` : ''}${p.peer ? ` → ${p.peer}` : ''}`))),
      el('td', {}, s.tunnel ? `${s.tunnel.port} @ ${s.tunnel.vtep}` : '–'),
      el('td', {}, String(s.learnedMacs)),
    )), 'no switch has connected', 6);
  }

  function renderLinks(links) {
    fill('links', links.map((l) => el('tr', {},
      el('td', {}, `${l.a.switch}:${l.a.portName}`),
      el('td', {}, `${l.b.switch}:${l.b.portName}`),
      el('td', { class: l.blocked ? 'blocked' : 'up' }, l.blocked ? 'blocked (off the spanning tree)' : 'forwarding'),
    )), 'no trunk found (LLDP)', 3);
  }

  function renderNetworks(nets, atts) {
    fill('networks', nets.map((n) => el('tr', { 'data-network': n.name },
      el('td', {}, n.name), el('td', {}, String(n.vid)), el('td', {}, n.vni === undefined ? '–' : String(n.vni)),
      el('td', {}, String(atts.filter((a) => a.network === n.name).length)),
    )), 'no network', 4);
  }

  function renderAttachments(atts) {
    fill('attachments', atts.map((a) => el('tr', { 'data-attachment': `${a.switch}:${a.port}` },
      el('td', {}, a.switch), el('td', {}, a.port), el('td', {}, a.network), el('td', {}, a.channel || '–'),
    )), 'no attachment', 4);
  }

  // ------------------------------------------------------------------ channels

  function renderChannels(list) {
    const box = $('channels');
    const names = new Set(list.map((c) => c.name));
    for (const [name, c] of charts) if (!names.has(name)) { c.plot?.destroy(); c.card.remove(); charts.delete(name); }
    if (list.length === 0 && !box.querySelector('.empty')) box.replaceChildren(el('p', { class: 'empty' }, 'no channel'));
    if (list.length > 0) box.querySelector('.empty')?.remove();
    for (const ch of list) {
      const c = charts.get(ch.name) ?? makeChannel(ch.name);
      c.card.querySelector('.limit').textContent = ch.rate;
      c.card.querySelector('.burst').textContent = ch.burst ? `, burst ${ch.burst}` : '';
      c.card.querySelector('.shares').textContent = ch.shares.length === 0 ? 'no attachment'
        : ch.shares.map((s) => `${s.switch} ${s.rate}${s.connected ? '' : ' (not connected)'}`).join(', ');
      c.card.querySelector('.meter').textContent = String(ch.meterId);
    }
  }

  function makeChannel(name) {
    const rateInput = el('input', { name: 'rate', placeholder: 'e.g. 5mbit', required: true, 'aria-label': `new rate of ${name}` });
    const error = el('span', { class: 'error' });
    const form = el('form', { class: 'set-rate' }, el('label', {}, 'rate '), rateInput, el('button', { type: 'submit' }, 'Set'), error);
    const plotBox = el('div', { class: 'plot' });
    const card = el('div', { class: 'channel', 'data-channel': name },
      el('h3', {}, name),
      el('div', { class: 'figures' },
        'limit ', el('b', { class: 'limit' }), el('span', { class: 'burst' }),
        ' · passing ', el('b', { class: 'now' }, '–'), ' · offered ', el('span', { class: 'offered' }, '–'),
        ' · meter ', el('span', { class: 'meter' }), ' · shares: ', el('span', { class: 'shares' })),
      plotBox, form);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const rate = rateInput.value.trim();
      api('PATCH', `/v1/channels/${encodeURIComponent(name)}`, { rate }).then(() => { rateInput.value = ''; return refresh(); }, (e) => {
        if (e instanceof AuthError) showLogin(e.message); else error.textContent = e.message;
      });
    });
    $('channels').append(card);
    const c = { card, plot: null, xs: [], rate: [], offered: [], limit: [], unit: 'bit' };
    if (typeof uPlot === 'function') {
      c.plot = new uPlot({
        width: Math.max(300, plotBox.clientWidth || 600), height: 200,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max, 1) * 1.15] } },
        series: [
          {},
          { label: 'passing', stroke: '#1f6feb', width: 2, fill: 'rgba(31,111,235,0.08)', value: (_u, v) => fmtRate(v, c.unit) },
          { label: 'offered', stroke: '#9aa4b5', width: 1, dash: [4, 4], value: (_u, v) => fmtRate(v, c.unit) },
          { label: 'limit', stroke: '#b3261e', width: 2, value: (_u, v) => fmtRate(v, c.unit) },
        ],
        axes: [{}, { size: 90, values: (_u, vals) => vals.map((v) => fmtAxis(v, c.unit)) }],
      }, [c.xs, c.rate, c.offered, c.limit], plotBox);
    } else {
      plotBox.append(el('p', { class: 'error' }, 'uPlot did not load: no chart'));
    }
    charts.set(name, c);
    return c;
  }

  function onSample(s) {
    const c = charts.get(s.channel);
    if (!c) { refreshSoon(); return; }
    c.unit = s.unit;
    const t = Date.parse(s.at) / 1000;
    c.xs.push(t); c.rate.push(s.rate); c.offered.push(s.offered); c.limit.push(s.limit);
    let drop = 0;
    while (drop < c.xs.length && c.xs[drop] < t - WINDOW_S) drop++;
    if (drop > 0) { c.xs.splice(0, drop); c.rate.splice(0, drop); c.offered.splice(0, drop); c.limit.splice(0, drop); }
    c.card.querySelector('.now').textContent = fmtRate(s.rate, s.unit);
    c.card.querySelector('.offered').textContent = fmtRate(s.offered, s.unit);
    c.card.dataset.limitPerSec = String(s.limit);
    // A channel over several switches: each switch's part moves with demand between refreshes.
    if (Array.isArray(s.parts) && s.parts.length > 1) {
      c.card.querySelector('.shares').textContent = s.parts.map((p) => `${p.switch} ${fmtRate(p.limit, s.unit)} (passing ${fmtRate(p.rate, s.unit)})`).join(', ');
    }
    c.plot?.setData([c.xs, c.rate, c.offered, c.limit]);
  }

  function onEvent(e) {
    switch (e.type) {
      case 'channel-rate': onSample(e); return;
      case 'channel-changed': {
        const c = charts.get(e.channel);
        if (c) c.card.querySelector('.limit').textContent = e.rate;
        refreshSoon();
        return;
      }
      case 'reconcile-done': return;   // changes nothing shown
      default: refreshSoon();
    }
  }

  // ------------------------------------------------------------------ the event stream

  /**
   * GET /events?rates=true through fetch(), with the token in the Authorization header (EventSource
   * cannot send headers, and a token in the URL would end up in logs and history). Reopened after
   * the last event seen when it breaks.
   */
  async function follow() {
    const ac = new AbortController();
    streamAbort = ac;
    let lastId = null;
    while (!ac.signal.aborted) {
      try {
        const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
        if (lastId !== null) headers['last-event-id'] = lastId;
        const res = await fetch('/events?rates=true', { headers, cache: 'no-store', signal: ac.signal });
        if (res.status === 401) { showLogin('the controller refused the token'); return; }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        setStatus('live', true);
        void refresh();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let id = null; const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
            }
            if (id !== null) lastId = id;
            if (data.length === 0) continue;
            let e;
            try { e = JSON.parse(data.join('\n')); } catch { continue; }
            onEvent(e);
          }
        }
      } catch (e) {
        if (ac.signal.aborted) return;
      }
      setStatus('reconnecting…', false);
      await sleep(2000);
    }
  }

  // ------------------------------------------------------------------ start

  function open() {
    $('login').hidden = true;
    $('main').hidden = false;
    $('forget').hidden = false;
    setStatus('connecting…', false);
    void follow();
  }

  window.addEventListener('resize', () => {
    for (const c of charts.values()) {
      const box = c.card.querySelector('.plot');
      if (c.plot && box) c.plot.setSize({ width: Math.max(300, box.clientWidth), height: 200 });
    }
  });
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = /** @type {HTMLInputElement} */ ($('token')).value.trim();
    if (t === '') return;
    token = t;
    sessionStorage.setItem(TOKEN_KEY, t);
    open();
  });
  $('forget').addEventListener('click', () => showLogin(''));

  token = takeToken();
  if (token) open(); else showLogin('');
})();
