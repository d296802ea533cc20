// causeway report: draws the timeline and the latency histograms from the JSON embedded in
// the page (#causeway-data) and wires the chain list to the timeline. Plain DOM + SVG; every
// string from the trace is set with textContent, never parsed as markup.
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var dataEl = document.getElementById('causeway-data');
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var S = data.strings;
  var TABLES = ['cuda_call', 'thread_state', 'thread_state', 'thread_state', 'thread_state',
                'thread_state', 'syscall', 'block_io', 'cpu_slice'];

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgText(parent, x, y, text, cls, anchor) {
    var t = el('text', {x: x, y: y}, parent);
    if (cls) t.setAttribute('class', cls);
    if (anchor) t.setAttribute('text-anchor', anchor);
    t.textContent = text;
    return t;
  }
  function three(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
  function fmtDur(ns) {
    if (ns < 0) return '-' + fmtDur(-ns);
    if (ns < 1000) return Math.round(ns) + ' ns';
    if (ns < 1e6) return three(ns / 1e3) + ' \u00b5s';
    if (ns < 1e9) return three(ns / 1e6) + ' ms';
    return three(ns / 1e9) + ' s';
  }
  // Axis labels: time since the trace start with as many decimals as the tick step needs.
  function fmtTick(ns, step) {
    var unit = step >= 1e8 ? [1e9, 's'] : step >= 1e5 ? [1e6, 'ms'] : step >= 100 ? [1e3, '\u00b5s'] : [1, 'ns'];
    var dec = Math.max(0, Math.ceil(-Math.log10(step / unit[0]) + 1e-9));
    return (ns / unit[0]).toFixed(Math.min(dec, 6)) + ' ' + unit[1];
  }
  function niceStep(span, target) {
    var raw = span / target, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  // ---------------------------------------------------------------- tooltip
  var tip = document.getElementById('tl-tip');
  function showTip(ev, lines) {
    if (!tip) return;
    tip.textContent = '';
    lines.forEach(function (l, i) {
      var d = document.createElement('div');
      if (l.cls) d.className = l.cls;
      if (i === 0) { var b = document.createElement('b'); b.textContent = l.text; d.appendChild(b); }
      else d.textContent = l.text;
      tip.appendChild(d);
    });
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 8) y = ev.clientY - h - 14;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  }
  function hideTip() { if (tip) tip.hidden = true; }

  // ---------------------------------------------------------------- histograms
  function drawHistogram(fig, h) {
    var plot = fig.querySelector('.hist-plot');
    if (!plot || !h.buckets.length) return;
    var W = 360, H = 150, L = 34, R = 8, T = 22, B = 22, pw = W - L - R, ph = H - T - B;
    var svg = el('svg', {viewBox: '0 0 ' + W + ' ' + H, role: 'img'}, plot);
    var title = el('title', {}, svg);
    title.textContent = h.function + ': latency histogram';
    var n = h.buckets.length, maxCount = 0;
    h.buckets.forEach(function (b) { maxCount = Math.max(maxCount, b[2]); });
    var lo = Math.log10(Math.max(1, h.buckets[0][0])), hi = Math.log10(h.buckets[n - 1][1]);
    function xOf(ns) { return L + (Math.log10(Math.max(ns, 1)) - lo) / (hi - lo) * pw; }
    var bw = pw / n;
    h.buckets.forEach(function (b, i) {
      if (!b[2]) return;
      var bh = Math.max(1, b[2] / maxCount * ph);
      var r = el('rect', {x: L + i * bw + 0.5, y: T + ph - bh, width: Math.max(1, bw - 1), height: bh,
                          'class': 'bar'}, svg);
      var t = el('title', {}, r);
      t.textContent = fmtDur(b[0]) + ' \u2013 ' + fmtDur(b[1]) + ': ' + b[2] + (b[2] === 1 ? ' call' : ' calls');
    });
    el('line', {x1: L, y1: T + ph + 0.5, x2: L + pw, y2: T + ph + 0.5, 'class': 'axis'}, svg);
    el('line', {x1: L - 0.5, y1: T, x2: L - 0.5, y2: T + ph, 'class': 'axis'}, svg);
    svgText(svg, L - 4, T + 8, String(maxCount), '', 'end');
    svgText(svg, L - 4, T + ph, '0', '', 'end');
    // Decade ticks (1 ns, 10 ns, ... ) inside the range.
    for (var d = Math.ceil(lo - 1e-9); d <= hi + 1e-9; d++) {
      var x = xOf(Math.pow(10, d));
      el('line', {x1: x, y1: T + ph, x2: x, y2: T + ph + 4, 'class': 'axis'}, svg);
      svgText(svg, x, H - 6, fmtDur(Math.pow(10, d)), '', 'middle');
    }
    // Percentile markers; labels are staggered so close ones stay readable.
    [['p50', h.p50_ns, '50'], ['p95', h.p95_ns, '95'], ['p99', h.p99_ns, '99']].forEach(function (p, i) {
      var x = Math.min(L + pw, Math.max(L, xOf(p[1])));
      el('line', {x1: x, y1: T - 2, x2: x, y2: T + ph, 'class': 'mark m' + p[2]}, svg);
      var t = svgText(svg, x, 8 + i * 0, p[0], 't' + p[2], i === 0 ? 'end' : i === 1 ? 'middle' : 'start');
      t.setAttribute('y', String(12));
      var mt = el('title', {}, t);
      mt.textContent = p[0] + ' = ' + fmtDur(p[1]);
    });
  }
  document.querySelectorAll('figure.hist').forEach(function (fig) {
    var h = data.histograms[Number(fig.getAttribute('data-index'))];
    if (h) drawHistogram(fig, h);
  });

  // ---------------------------------------------------------------- timeline
  var host = document.getElementById('tl');
  var select = document.getElementById('tl-select');
  if (!host || !select || !data.views.length) return;
  var LABEL_W = 200, AXIS_H = 26, ROW_STATE = 12, ROW_CUDA = 16, ROW_SYS = 10, GAP = 12, PAD_R = 12;
  var cur = null;        // the view shown
  var t0 = 0, t1 = 1;    // visible time range, ns
  var highlight = null;  // set of "table:id" to outline, or null
  var layout = null;     // per lane: {y, h, stateY, cudaY, sysY}

  function chainById(id) {
    for (var i = 0; i < data.chains.length; i++) if (data.chains[i].id === id) return data.chains[i];
    return null;
  }
  function evidenceSet(chain) {
    var s = {};
    chain.evidence.forEach(function (e) { s[e[0] + ':' + e[1]] = true; });
    return s;
  }

  function computeLayout(v) {
    var lanes = v.lanes.map(function () { return {depth: 0, sys: false}; });
    v.events.forEach(function (e) {
      var l = lanes[e[0]];
      if (e[1] === 0) l.depth = Math.max(l.depth, Math.min(e[5], 2) + 1);
      if (e[1] === 6 || e[1] === 7) l.sys = true;
    });
    var y = AXIS_H;
    return lanes.map(function (l) {
      var r = {y: y, stateY: y + 6};
      var h = 6 + ROW_STATE + 4;
      r.cudaY = y + h;
      h += Math.max(1, l.depth) * ROW_CUDA;
      r.sysY = y + h + 2;
      if (l.sys) h += ROW_SYS + 4;
      r.h = Math.max(h + 6, 44);
      y += r.h;
      return r;
    });
  }

  function laneTitle(l) {
    return (l.thread || '?') + (l.process && l.process !== l.thread ? ' \u00b7 ' + l.process : '');
  }

  function draw() {
    var v = cur;
    host.textContent = '';
    var width = Math.max(600, host.clientWidth || 1000);
    var plotW = width - LABEL_W - PAD_R;
    var total = layout.length ? layout[layout.length - 1].y + layout[layout.length - 1].h : AXIS_H;
    var height = total + 8;
    var svg = el('svg', {width: width, height: height, viewBox: '0 0 ' + width + ' ' + height,
                         id: 'tl-svg'}, host);
    var span = Math.max(1, t1 - t0);
    function X(ns) { return LABEL_W + (ns - t0) / span * plotW; }
    var clip = el('clipPath', {id: 'tl-clip'}, el('defs', {}, svg));
    el('rect', {x: LABEL_W, y: 0, width: plotW, height: height}, clip);

    // Lane backgrounds and labels.
    v.lanes.forEach(function (l, i) {
      var r = layout[i];
      el('rect', {x: 0, y: r.y, width: width, height: r.h, 'class': 'lane-bg' + (i % 2 ? ' odd' : '')}, svg);
      el('line', {x1: 0, y1: r.y + 0.5, x2: width, y2: r.y + 0.5, 'class': 'sep'}, svg);
      var title = laneTitle(l);
      // The label column is LABEL_W wide: long names are cut (the tooltip has them whole).
      svgText(svg, 10, r.y + 17, title.length > 25 ? title.slice(0, 24) + '\u2026' : title, 'lane-label');
      svgText(svg, 10, r.y + 31, 'tid ' + l.tid + (l.pid !== l.tid ? ' \u00b7 pid ' + l.pid : '') +
              ' \u00b7 ' + l.role + (l.traced ? '' : ' \u00b7 not traced'), 'lane-sub');
    });
    var plot = el('g', {'clip-path': 'url(#tl-clip)'}, svg);
    // The chain's evidence span.
    var fx0 = X(v.focus[0]), fx1 = X(v.focus[1]);
    el('rect', {x: fx0, y: AXIS_H, width: Math.max(2, fx1 - fx0), height: total - AXIS_H, 'class': 'focus'}, plot);
    // Axis.
    var axis = el('g', {'class': 'axis'}, svg);
    var step = niceStep(span, Math.max(3, Math.floor(plotW / 110)));
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var x = X(t);
      el('line', {x1: x, y1: AXIS_H - 6, x2: x, y2: total}, axis);
      svgText(axis, x + 3, 14, fmtTick(t, step));
    }
    // Events.
    var hlOn = !!highlight;
    host.classList.toggle('highlighting', hlOn);
    v.events.forEach(function (e, idx) {
      var end = e[2] + e[3];
      if (end < t0 || e[2] > t1) return;
      var r = layout[e[0]], kind = e[1], y, h;
      if (kind === 0) { y = r.cudaY + Math.min(e[5], 2) * ROW_CUDA; h = ROW_CUDA - 3; }
      else if (kind === 6 || kind === 7) { y = r.sysY; h = ROW_SYS; }
      else { y = r.stateY; h = ROW_STATE; }
      var x0 = Math.max(LABEL_W - 2, X(e[2])), x1 = Math.min(LABEL_W + plotW + 2, X(end));
      var cls = 'ev k' + kind + (kind === 0 && e[5] > 0 ? ' d' + Math.min(e[5], 2) : '');
      if (hlOn && highlight[TABLES[kind] + ':' + e[4]]) cls += ' hl';
      var rect = el('rect', {x: x0, y: y, width: Math.max(1, x1 - x0), height: h, 'class': cls,
                             'data-i': idx, 'data-key': TABLES[kind] + ':' + e[4]}, plot);
      if (kind === 0 && x1 - x0 > 44) {
        var label = S[e[6]], fit = Math.floor((x1 - x0 - 6) / 6.2);
        svgText(plot, x0 + 4, y + h - 3.5, label.length > fit ? label.slice(0, Math.max(1, fit - 1)) + '\u2026' : label,
                e[5] > 0 ? 'bar-label dark' : 'bar-label');
      }
      void rect;
    });
    // Wakeups: from the waker's lane (when shown) to the wakee's state row.
    v.wakeups.forEach(function (w, idx) {
      if (w[0] < t0 || w[0] > t1) return;
      var x = X(w[0]), to = layout[w[2]], yTo = to.stateY;
      var g = el('g', {'data-w': idx}, plot);
      if (w[1] >= 0) {
        var from = layout[w[1]], yFrom = from.stateY + ROW_STATE / 2;
        el('line', {x1: x, y1: yFrom, x2: x, y2: yTo + (yFrom < yTo ? -1 : ROW_STATE + 1), 'class': 'wake'}, g);
        el('circle', {cx: x, cy: yFrom, r: 2.2, 'class': 'wake-head'}, g);
      }
      var down = w[1] < 0 || layout[w[1]].y < to.y;
      var tipY = down ? yTo : yTo + ROW_STATE;
      var ah = down ? -5 : 5;
      el('path', {d: 'M' + (x - 3.5) + ',' + (tipY + ah) + 'L' + (x + 3.5) + ',' + (tipY + ah) + 'L' + x + ',' + tipY + 'Z',
                  'class': 'wake-head'}, g);
      el('rect', {x: x - 4, y: Math.min(tipY, tipY + ah) - 1, width: 8, height: 7, fill: 'transparent',
                  'data-w': idx}, g);
    });
  }

  function eventLines(e) {
    var lines = [{text: S[e[6]] + '  ' + fmtDur(e[3])}];
    if (S[e[7]]) lines.push({text: S[e[7]]});
    lines.push({text: 'at ' + fmtDur(e[2]) + ' \u2192 ' + fmtDur(e[2] + e[3]) + ' since the trace start'});
    lines.push({text: TABLES[e[1]] + ' ' + e[4] + ' \u00b7 ' + laneTitle(cur.lanes[e[0]])});
    if (highlight && highlight[TABLES[e[1]] + ':' + e[4]]) lines.push({text: 'evidence of the chain', cls: 't-ev'});
    return lines;
  }

  host.addEventListener('mousemove', function (ev) {
    if (dragging) return;
    var t = ev.target, i = t.getAttribute && t.getAttribute('data-i');
    if (i !== null && i !== undefined) { showTip(ev, eventLines(cur.events[Number(i)])); return; }
    var w = t.getAttribute && t.getAttribute('data-w');
    if (w !== null && w !== undefined) {
      var wk = cur.wakeups[Number(w)];
      showTip(ev, [{text: 'wakeup'}, {text: laneTitle(cur.lanes[wk[2]]) + ' woken by ' + S[wk[3]]},
                   {text: 'at ' + fmtDur(wk[0]) + ' \u00b7 wakeup ' + wk[4]}]);
      return;
    }
    hideTip();
  });
  host.addEventListener('mouseleave', hideTip);

  // Zoom and pan.
  function plotWidth() { return Math.max(600, host.clientWidth || 1000) - LABEL_W - PAD_R; }
  function setRange(a, b) {
    var minSpan = 1000, lo = cur.start_ns, hi = cur.end_ns;
    if (b - a < minSpan) { var c = (a + b) / 2; a = c - minSpan / 2; b = c + minSpan / 2; }
    if (b - a > hi - lo) { a = lo; b = hi; }
    if (a < lo) { b += lo - a; a = lo; }
    if (b > hi) { a -= b - hi; b = hi; }
    t0 = a; t1 = b;
    scheduleDraw();
  }
  var pending = false;
  function scheduleDraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }
  function zoomAt(factor, frac) {
    var span = t1 - t0, at = t0 + span * frac, ns = span * factor;
    setRange(at - ns * frac, at - ns * frac + ns);
  }
  host.addEventListener('wheel', function (ev) {
    if (!(ev.ctrlKey || ev.metaKey)) return;
    ev.preventDefault();
    var rect = host.getBoundingClientRect();
    var frac = Math.min(1, Math.max(0, (ev.clientX - rect.left - LABEL_W) / plotWidth()));
    zoomAt(ev.deltaY > 0 ? 1.25 : 0.8, frac);
  }, {passive: false});
  var dragging = false, dragX = 0, dragT0 = 0, dragT1 = 0;
  host.addEventListener('mousedown', function (ev) {
    if (ev.button !== 0) return;
    dragging = true; dragX = ev.clientX; dragT0 = t0; dragT1 = t1;
    host.classList.add('dragging');
    hideTip();
  });
  window.addEventListener('mousemove', function (ev) {
    if (!dragging) return;
    var dt = (ev.clientX - dragX) / plotWidth() * (dragT1 - dragT0);
    setRange(dragT0 - dt, dragT1 - dt);
  });
  window.addEventListener('mouseup', function () { dragging = false; host.classList.remove('dragging'); });
  host.addEventListener('dblclick', function () { setRange(cur.start_ns, cur.end_ns); });
  document.getElementById('tl-zoom-in').addEventListener('click', function () { zoomAt(0.5, 0.5); });
  document.getElementById('tl-zoom-out').addEventListener('click', function () { zoomAt(2, 0.5); });
  document.getElementById('tl-reset').addEventListener('click', function () { setRange(cur.start_ns, cur.end_ns); });
  function fitFocus() {
    var f = cur.focus, pad = Math.max((f[1] - f[0]) * 0.08, 20000);
    setRange(f[0] - pad, f[1] + pad);
  }
  document.getElementById('tl-fit').addEventListener('click', fitFocus);
  window.addEventListener('resize', scheduleDraw);

  function showView(i, chain) {
    cur = data.views[i];
    select.value = String(i);
    layout = computeLayout(cur);
    highlight = evidenceSet(chain || chainById(cur.chain) || {evidence: []});
    t0 = cur.start_ns; t1 = cur.end_ns;
    var note = document.getElementById('tl-note');
    if (note) {
      var o = cur.omitted, parts = [];
      if (o.events) parts.push(o.events + ' shorter events');
      if (o.wakeups) parts.push(o.wakeups + ' wakeups');
      if (o.lanes) parts.push(o.lanes + ' more threads');
      note.textContent = 'Window ' + fmtDur(cur.start_ns) + ' \u2013 ' + fmtDur(cur.end_ns) +
        ' after the trace start; the shaded band is the evidence of chain #' + cur.chain + '.' +
        (parts.length ? ' Not shown (report limits): ' + parts.join(', ') + '.' : '');
    }
    document.querySelectorAll('li.chain.selected').forEach(function (c) { c.classList.remove('selected'); });
    var card = document.getElementById('chain-' + cur.chain);
    if (card) card.classList.add('selected');
    draw();
  }
  select.addEventListener('change', function () { showView(Number(select.value)); });

  // Chain list -> timeline.
  function selectChain(id, scroll) {
    var chain = chainById(id);
    if (!chain || chain.view === null) return false;
    showView(chain.view, chain);
    if (scroll) document.getElementById('timeline').scrollIntoView({block: 'start'});
    return true;
  }
  document.querySelectorAll('button.show-timeline').forEach(function (b) {
    b.addEventListener('click', function () { selectChain(Number(b.getAttribute('data-chain')), true); });
  });
  document.querySelectorAll('button.ev-link').forEach(function (b) {
    b.addEventListener('click', function () {
      if (!selectChain(Number(b.getAttribute('data-chain')), true)) return;
      var key = b.getAttribute('data-table') + ':' + b.getAttribute('data-id');
      for (var i = 0; i < cur.events.length; i++) {
        var e = cur.events[i];
        if (TABLES[e[1]] + ':' + e[4] !== key) continue;
        var pad = Math.max(e[3] * 0.5, 50000);
        setRange(e[2] - pad, e[2] + e[3] + pad);
        return;
      }
    });
  });
  // Hovering a chain outlines its evidence in the window shown, when it is there.
  document.querySelectorAll('li.chain').forEach(function (card) {
    card.addEventListener('mouseenter', function () {
      var chain = chainById(Number(card.getAttribute('data-chain')));
      if (!chain || !cur) return;
      highlight = evidenceSet(chain);
      scheduleDraw();
    });
    card.addEventListener('mouseleave', function () {
      if (!cur) return;
      highlight = evidenceSet(chainById(cur.chain) || {evidence: []});
      scheduleDraw();
    });
  });

  showView(0);
  fitFocus();
})();
