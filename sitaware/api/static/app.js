// The command-center page: an SVG map of the districts with alarm cells and units, and a
// live feed of situations. Offline: it talks only to the sitaware API that served it.
// Every text from the data goes in through textContent, never as HTML.
'use strict';

const L = JSON.parse(document.getElementById('labels').textContent);
const SVGNS = 'http://www.w3.org/2000/svg';
const TZ = 'Asia/Shanghai';
const $ = (id) => document.getElementById(id);
const state = { token: null, me: null, project: null, size: 1, latest: 0, feed: new Map() };

function takeToken() {
  // A kiosk passes ?token= once; keep it for this tab only and drop it from the address.
  const url = new URL(location.href);
  const given = url.searchParams.get('token');
  if (given) {
    sessionStorage.setItem('sitaware.token', given);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem('sitaware.token');
}

function askToken(message) {
  sessionStorage.removeItem('sitaware.token');
  $('login-error').textContent = message || '';
  if (!$('login').open) $('login').showModal();
}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' });
  if (r.status === 401) { askToken('令牌无效，请重新输入'); throw new Error('unauthorized'); }
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function svg(name, attrs, parent) {
  const el = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function titled(el, text) { svg('title', {}, el).textContent = text; return el; }
const districtName = (d) => L.districts[d] || d || '—';
const clockTime = (iso) => new Date(iso).toLocaleTimeString('zh-CN', { timeZone: TZ, hour12: false });

function drawDistricts(geo) {
  const rings = geo.features.flatMap((f) =>
    f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates);
  const points = rings.flatMap((polygon) => polygon[0]);
  const lons = points.map((p) => p[0]), lats = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = 10000, c = Math.cos(((y0 + y1) / 2) * Math.PI / 180);  // equirectangular, true at mid-latitude
  state.project = (lon, lat) => [(lon - x0) * c * k, (y1 - lat) * k];
  const [w, h] = state.project(x1, y0);
  state.size = Math.max(w, h);
  const pad = state.size * 0.03;
  $('map').setAttribute('viewBox', `${-pad} ${-pad} ${w + 2 * pad} ${h + 2 * pad}`);
  const scope = state.me.districts;
  for (const f of geo.features) {
    const name = f.properties.district;
    const polygons = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    const d = polygons.flatMap((poly) => poly.map((ring) =>
      'M' + ring.map(([lon, lat]) => state.project(lon, lat).map((v) => v.toFixed(1)).join(',')).join('L') + 'Z')).join(' ');
    const out = scope.length && !scope.includes(name) ? ' out-of-scope' : '';
    titled(svg('path', { d, class: 'district' + out, 'data-district': name }, $('layer-districts')), districtName(name));
    const outer = polygons[0][0];
    const [cx, cy] = state.project(outer.reduce((s, p) => s + p[0], 0) / outer.length,
                                   outer.reduce((s, p) => s + p[1], 0) / outer.length);
    svg('text', { x: cx, y: cy, class: 'district-name', 'font-size': state.size / 45 }, $('layer-labels'))
      .textContent = districtName(name);
  }
}

async function refreshCells() {
  // The window ends now, or at the newest event time seen when a replay or simulation runs ahead.
  const until = new Date(Math.max(Date.now(), state.latest)).toISOString();
  const r = await api('/api/cells?minutes=15&until=' + encodeURIComponent(until));
  const layer = $('layer-cells');
  layer.replaceChildren();
  const most = Math.max(1, ...r.cells.map((cell) => cell.alarms));
  for (const cell of r.cells) {
    const [a, b] = [state.project(cell.bounds[0], cell.bounds[3]), state.project(cell.bounds[2], cell.bounds[1])];
    titled(svg('rect', { x: a[0], y: a[1], width: b[0] - a[0], height: b[1] - a[1], class: 'cell',
      fill: `rgba(255, 80, 50, ${(0.15 + 0.7 * cell.alarms / most).toFixed(2)})` }, layer),
    `网格 ${cell.cell}（${districtName(cell.district)}）：${cell.alarms} 起警情`);
  }
  $('cells-note').textContent = `网格着色：${clockTime(r.since)}–${clockTime(r.until)} 接警数（最多 ${most} 起）`;
}

const SHAPES = {  // unit type -> shape, in units of the marker size
  police_car: [[-1, -1], [1, -1], [1, 1], [-1, 1]],
  motorcycle: [[0, -1.2], [1.1, 0.9], [-1.1, 0.9]],
  security_guard: [[0, -1.3], [1.3, 0], [0, 1.3], [-1.3, 0]],
  grid_worker: [[-0.4, -1.2], [0.4, -1.2], [0.4, -0.4], [1.2, -0.4], [1.2, 0.4], [0.4, 0.4], [0.4, 1.2],
    [-0.4, 1.2], [-0.4, 0.4], [-1.2, 0.4], [-1.2, -0.4], [-0.4, -0.4]],
};

async function refreshUnits() {
  const r = await api('/api/units');
  const layer = $('layer-units'), s = state.size / 220;
  layer.replaceChildren();
  for (const u of r.units) {
    const [x, y] = state.project(u.lon, u.lat);
    const cls = `unit st-${u.status}`;
    const shape = SHAPES[u.unit_type];
    const el = shape
      ? svg('polygon', { points: shape.map(([dx, dy]) => `${x + dx * s},${y + dy * s}`).join(' '), class: cls }, layer)
      : svg('circle', { cx: x, cy: y, r: s, class: cls }, layer);
    titled(el, `${L.unit_types[u.unit_type] || u.unit_type} ${u.unit_id} · ${L.unit_statuses[u.status] || u.status} · ${clockTime(u.ts)}`);
  }
}

function matches(li) {
  const type = $('filter-type').value, district = $('filter-district').value;
  return (!type || li.dataset.type === type) && (!district || li.dataset.district === district);
}

function addSituation(s, live) {
  if (state.feed.has(s.event_id)) return;
  const li = document.createElement('li');
  li.dataset.eventId = s.event_id; li.dataset.type = s.type; li.dataset.district = s.district || '';
  li.className = 'sev-' + s.severity;
  const meta = document.createElement('div');
  meta.className = 'meta';
  for (const text of [clockTime(s.event_time), L.severities[s.severity] || s.severity,
    L.situation_types[s.type] || s.type, districtName(s.district)]) {
    meta.appendChild(document.createElement('span')).textContent = text;
  }
  li.appendChild(meta);
  const summary = li.appendChild(document.createElement('div'));
  summary.className = 'summary';
  summary.textContent = s.summary;
  li.classList.toggle('hidden', !matches(li));
  const feed = $('feed');
  if (live) feed.prepend(li); else feed.appendChild(li);
  state.feed.set(s.event_id, li);
  while (feed.children.length > 300) {
    state.feed.delete(feed.lastElementChild.dataset.eventId);
    feed.lastElementChild.remove();
  }
  state.latest = Math.max(state.latest, Date.parse(s.event_time) || 0);
  if (live && s.lat != null && s.lon != null) {
    const [x, y] = state.project(s.lon, s.lat);
    const mark = titled(svg('circle', { cx: x, cy: y, r: state.size / 90, class: 'situation-mark' },
      $('layer-situations')), s.summary);
    setTimeout(() => mark.remove(), 120000);
  }
}

async function loadRecent() {
  const r = await api('/api/situations?limit=100');
  for (const s of r.situations) addSituation(s, false);
}

function openStream() {
  // EventSource cannot send headers: the API takes the token as a query parameter here only.
  const es = new EventSource('/api/stream?token=' + encodeURIComponent(state.token));
  let dropped = false;
  es.onopen = () => {
    $('link').className = 'link up'; $('link').textContent = '● 实时连接';
    if (dropped) loadRecent().catch(() => {});  // catch up on what the gap missed
  };
  es.onerror = () => { dropped = true; $('link').className = 'link down'; $('link').textContent = '● 连接中断，重连中'; };
  es.onmessage = (e) => addSituation(JSON.parse(e.data), true);
}

function fillControls() {
  const types = $('filter-type'), districts = $('filter-district');
  for (const [code, name] of Object.entries(L.situation_types)) types.add(new Option(name, code));
  const mine = state.me.districts.length ? state.me.districts : Object.keys(L.districts);
  for (const d of mine) districts.add(new Option(districtName(d), d));
  const refilter = () => { for (const li of $('feed').children) li.classList.toggle('hidden', !matches(li)); };
  types.onchange = refilter; districts.onchange = refilter;
  const legend = $('legend');
  for (const [code, name] of Object.entries(L.unit_statuses)) {
    const item = legend.appendChild(document.createElement('span'));
    item.textContent = '● ' + name; item.className = 'st-' + code;
  }
  const shapes = { police_car: '■', foot_patrol: '●', motorcycle: '▲', security_guard: '◆', grid_worker: '✚' };
  legend.appendChild(document.createElement('span')).textContent =
    Object.entries(shapes).map(([type, mark]) => `${mark} ${L.unit_types[type]}`).join('  ');
}

async function start() {
  try { state.me = await api('/api/whoami'); } catch (e) { return; }
  state.started = true;
  const scope = state.me.districts.length ? ' · ' + state.me.districts.map(districtName).join('、') : ' · 全市';
  $('whoami').textContent = `${state.me.actor}（${L.roles[state.me.role] || state.me.role}${scope}）`;
  drawDistricts(await api('/api/districts'));
  fillControls();
  openStream();
  await loadRecent().catch((e) => console.warn(e));
  const every = (fn, ms) => { fn().catch((e) => console.warn(e)); setInterval(() => fn().catch((e) => console.warn(e)), ms); };
  every(refreshUnits, 5000);
  every(refreshCells, 30000);
}

setInterval(() => { $('clock').textContent = new Date().toLocaleString('zh-CN', { timeZone: TZ, hour12: false }); }, 1000);
$('login-form').addEventListener('submit', () => {
  state.token = $('login-token').value.trim();
  sessionStorage.setItem('sitaware.token', state.token);
  if (state.started) location.reload(); else start();  // a token that expired mid-session
});
state.token = takeToken();
if (state.token) start(); else askToken();
