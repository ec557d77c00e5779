/* nmcraman fit pages: an SVG plot of data, baseline, bands, envelope and residual.
   No dependencies and no network. Drag across the plot to zoom, turn the mouse wheel
   to zoom around the pointer, double-click to see everything again; click a legend
   entry to hide or show a curve; point at a row of the band table to bring its band
   forward. The x range shown is kept in the svg element's
   data-xmin and data-xmax attributes (the browser tests read them). The map pages
   draw a pixel's fit with the same plot: window.NmcramanPlot. A spectrum given its own
   ``series`` (curves of kinds dots, dash, line and range: a band between ``lo`` and
   ``hi``) and ``xlabel``, ``ylabel`` is drawn with those curves and labels, and without
   the residual panel unless it has a ``residual``: the trend plot of a series' page. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
  var W = 760, LEFT = 70, RIGHT = 14, TOP = 10, MAIN = 330, GAP = 16, LOW = 100, BOTTOM = 42;

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function ticks(lo, hi, count) {
    var span = hi - lo;
    if (!(span > 0)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = span / count / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return out;
  }

  function fmt(v) {
    if (v === null || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(5)));
  }

  /* First index with x[i] >= v in the ascending array x. */
  function lower(x, v) {
    var lo = 0, hi = x.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (x[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /* The plot of spectrum ``s`` in ``host``; ``was``, a plot it replaces, passes on the
     curves hidden and the x range shown. */
  function Plot(host, s, was) {
    this.s = s;
    this.host = host;
    this.hidden = was ? was.hidden : {};
    this.full = [s.x[0], s.x[s.x.length - 1]];
    if (!(this.full[1] > this.full[0])) this.full = [this.full[0] - 0.5, this.full[0] + 0.5];
    this.range = was ? was.range.slice() : this.full.slice();
    /* The residual panel's height and the gap above it: none without a residual. */
    this.low = s.residual ? LOW : 0;
    this.gap = s.residual ? GAP : 0;
    var tall = MAIN + this.gap + this.low;
    this.height = TOP + tall + BOTTOM;
    this.buildLegend();
    this.svg = el("svg", {viewBox: "0 0 " + W + " " + this.height, class: "plot", role: "img",
                          "aria-label": (s.series ? "" : "fit of ") + s.name}, host);
    var id = "clip" + host.dataset.index;
    el("rect", {x: LEFT, y: TOP, width: W - LEFT - RIGHT, height: tall},
       el("clipPath", {id: id}, el("defs", {}, this.svg)));
    this.axes = el("g", {class: "axes"}, this.svg);
    this.curves = el("g", {"clip-path": "url(#" + id + ")"}, this.svg);
    this.cursor = el("g", {class: "cursor", visibility: "hidden"}, this.svg);
    el("line", {y1: TOP, y2: TOP + tall}, this.cursor);
    this.band = el("rect", {class: "zoombox", y: TOP, height: MAIN, visibility: "hidden"},
                   this.svg);
    this.area = el("rect", {class: "area", x: LEFT, y: TOP, width: W - LEFT - RIGHT,
                            height: tall}, this.svg);
    this.tip = document.createElement("div");
    this.tip.className = "tip";
    this.tip.hidden = true;
    host.appendChild(this.tip);
    this.listen();
    this.draw();
    this.linkTable();
  }

  /* Pointing at a row of the band table next to the plot brings that band forward. */
  Plot.prototype.linkTable = function () {
    var self = this, table = this.host.parentElement.querySelector("table.bands");
    if (!table) return;
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      tr.addEventListener("mouseenter", function () { self.highlight(tr.dataset.band); });
      tr.addEventListener("mouseleave", function () { self.highlight(null); });
    });
  };

  Plot.prototype.highlight = function (band) {
    this.curves.querySelectorAll("path.band").forEach(function (p) {
      var mine = p.dataset.key === "band:" + band;
      p.classList.toggle("highlight", mine);
      p.classList.toggle("dim", band !== null && !mine);
    });
  };

  Plot.prototype.series = function () {
    if (this.s.series) return this.s.series;
    var s = this.s, out = [
      {key: "data", label: "data", y: s.y, color: "#666", kind: "dots"},
      {key: "baseline", label: "baseline", y: s.baseline, color: "#444", kind: "dash"},
    ];
    s.bands.forEach(function (b, i) {
      out.push({key: "band:" + b.id, label: b.label, y: b.y, color: COLORS[i % COLORS.length],
                kind: "band"});
    });
    out.push({key: "fit", label: "fit", y: s.fit, color: "#000", kind: "line"});
    out.push({key: "residual", label: "residual", y: s.residual, color: "#c0392b",
              kind: "residual"});
    return out;
  };

  Plot.prototype.buildLegend = function () {
    var self = this, ul = document.createElement("ul");
    ul.className = "legend";
    this.series().forEach(function (c) {
      var li = document.createElement("li");
      li.dataset.key = c.key;
      li.title = "click to hide or show";
      var sw = document.createElement("span");
      sw.className = "swatch " + c.kind;
      sw.style.background = c.kind === "band" || c.kind === "range" ? c.color : "";
      sw.style.borderColor = c.color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(c.label));
      li.classList.toggle("off", !!self.hidden[c.key]);
      li.addEventListener("click", function () {
        self.hidden[c.key] = !self.hidden[c.key];
        li.classList.toggle("off", !!self.hidden[c.key]);
        self.draw();
      });
      ul.appendChild(li);
    });
    this.host.appendChild(ul);
  };

  /* Index range [i0, i1) drawn for the current x range, one point beyond each side. */
  Plot.prototype.visible = function () {
    var x = this.s.x;
    return [Math.max(lower(x, this.range[0]) - 1, 0),
            Math.min(lower(x, this.range[1]) + 1, x.length)];
  };

  Plot.prototype.limits = function (arrays, i0, i1) {
    var lo = Infinity, hi = -Infinity;
    arrays.forEach(function (a) {
      for (var i = i0; i < i1; i++) {
        if (a[i] === null) continue;
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
      }
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    var pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
    return [lo - pad, hi + pad];
  };

  Plot.prototype.sx = function (v) {
    return LEFT + (v - this.range[0]) / (this.range[1] - this.range[0]) * (W - LEFT - RIGHT);
  };

  Plot.prototype.xAt = function (px) {
    return this.range[0] + (px - LEFT) / (W - LEFT - RIGHT) * (this.range[1] - this.range[0]);
  };

  Plot.prototype.draw = function () {
    var s = this.s, self = this, vis = this.visible(), i0 = vis[0], i1 = vis[1];
    this.svg.dataset.xmin = this.range[0];
    this.svg.dataset.xmax = this.range[1];
    var yl = this.limits(this.shown(), i0, i1);
    var rl = this.limits([s.residual || []], i0, i1);
    var m = Math.max(Math.abs(rl[0]), Math.abs(rl[1]));
    rl = [-m, m];
    var sy = function (v) { return TOP + MAIN - (v - yl[0]) / (yl[1] - yl[0]) * MAIN; };
    var top = TOP + MAIN + this.gap, low = this.low;
    var sr = function (v) { return top + low - (v - rl[0]) / (rl[1] - rl[0]) * low; };
    this.scales = {sy: sy, sr: sr};
    this.curves.textContent = "";
    this.series().forEach(function (c) {
      if (self.hidden[c.key]) return;
      var path = self.path(c, i0, i1, c.kind === "residual" ? sr : sy);
      var filled = c.kind === "band" || c.kind === "range";
      el("path", {d: path, class: c.kind, stroke: c.color, fill: filled ? c.color : "none",
                  "data-key": c.key}, self.curves);
    });
    if (low) {
      el("line", {x1: LEFT, x2: W - RIGHT, y1: sr(0), y2: sr(0), class: "zero"}, this.curves);
    }
    this.drawAxes(yl, rl, sy, sr);
  };

  /* The arrays the main panel's y range must hold: a spectrum's data, fit, baseline and
     the bands shown above it; or every curve shown of a plot of its own ``series``. */
  Plot.prototype.shown = function () {
    var s = this.s, self = this;
    if (!s.series) {
      return [s.y, s.fit, s.baseline].concat(s.bands.filter(function (b) {
        return !self.hidden["band:" + b.id];
      }).map(function (b) { return b.y.map(function (v, i) { return v + s.baseline[i]; }); }));
    }
    var out = [];
    s.series.forEach(function (c) {
      if (self.hidden[c.key]) return;
      if (c.kind === "range") out.push(c.lo, c.hi); else out.push(c.y);
    });
    return out;
  };

  Plot.prototype.path = function (c, i0, i1, sy) {
    var x = this.s.x, base = this.s.baseline, parts = [], i;
    if (c.kind === "range") return this.rangePath(c, i0, i1, sy);
    for (i = i0; i < i1; i++) {
      var v = c.kind === "band" ? c.y[i] + base[i] : c.y[i];
      if (v === null) continue;
      var p = this.sx(x[i]).toFixed(1) + " " + sy(v).toFixed(1);
      parts.push(c.kind === "dots" ? "M" + p + "h0" : (parts.length ? "L" : "M") + p);
    }
    if (c.kind === "band") {
      for (i = i1 - 1; i >= i0; i--) {
        parts.push("L" + this.sx(x[i]).toFixed(1) + " " + sy(base[i]).toFixed(1));
      }
      parts.push("Z");
    }
    return parts.join("");
  };

  /* The band of a range curve: along ``hi``, back along ``lo``, over the points where
     both are defined. */
  Plot.prototype.rangePath = function (c, i0, i1, sy) {
    var x = this.s.x, self = this, at = [], parts = [];
    for (var i = i0; i < i1; i++) if (c.lo[i] !== null && c.hi[i] !== null) at.push(i);
    if (!at.length) return "";
    at.concat(at.slice().reverse()).forEach(function (k, j) {
      var v = j < at.length ? c.hi[k] : c.lo[k];
      parts.push((j ? "L" : "M") + self.sx(x[k]).toFixed(1) + " " + sy(v).toFixed(1));
    });
    return parts.join("") + "Z";
  };

  Plot.prototype.drawAxes = function (yl, rl, sy, sr) {
    var g = this.axes, self = this, s = this.s, low = this.low;
    var bottom = TOP + MAIN + this.gap + low, top = TOP + MAIN + this.gap;
    g.textContent = "";
    el("rect", {x: LEFT, y: TOP, width: W - LEFT - RIGHT, height: MAIN, class: "frame"}, g);
    if (low) {
      el("rect", {x: LEFT, y: top, width: W - LEFT - RIGHT, height: low, class: "frame"}, g);
    }
    ticks(this.range[0], this.range[1], 8).forEach(function (t) {
      var px = self.sx(t);
      el("line", {x1: px, x2: px, y1: bottom, y2: bottom + 5}, g);
      el("text", {x: px, y: bottom + 18, "text-anchor": "middle"}, g).textContent = fmt(t);
    });
    [[yl, sy, TOP, MAIN, 6], [rl, sr, top, low, 3]].slice(0, low ? 2 : 1).forEach(function (a) {
      ticks(a[0][0], a[0][1], a[4]).forEach(function (t) {
        var py = a[1](t);
        if (py < a[2] - 0.5 || py > a[2] + a[3] + 0.5) return;
        el("line", {x1: LEFT - 5, x2: LEFT, y1: py, y2: py}, g);
        el("text", {x: LEFT - 8, y: py + 4, "text-anchor": "end"}, g).textContent = fmt(t);
      });
    });
    el("text", {x: (LEFT + W - RIGHT) / 2, y: this.height - 6, "text-anchor": "middle",
                class: "label"}, g).textContent = s.xlabel || "Raman shift (cm⁻¹)";
    var label = function (text, y) {
      el("text", {transform: "translate(16 " + y + ") rotate(-90)", "text-anchor": "middle",
                  class: "label"}, g).textContent = text;
    };
    label(s.ylabel || "Intensity", TOP + MAIN / 2);
    if (low) label("Residual", top + low / 2);
  };

  Plot.prototype.local = function (ev) {
    var pt = this.svg.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    return pt.matrixTransform(this.svg.getScreenCTM().inverse());
  };

  Plot.prototype.zoom = function (lo, hi) {
    var full = this.full, min = (full[1] - full[0]) * 1e-3;
    lo = Math.max(lo, full[0]);
    hi = Math.min(hi, full[1]);
    if (hi - lo < min) return;
    this.range = [lo, hi];
    this.draw();
  };

  Plot.prototype.listen = function () {
    var self = this, area = this.area, start = null;
    area.addEventListener("mousedown", function (ev) {
      start = self.local(ev).x;
      ev.preventDefault();
    });
    area.addEventListener("mousemove", function (ev) {
      var px = self.local(ev).x;
      if (start !== null) {
        self.band.setAttribute("x", Math.min(start, px));
        self.band.setAttribute("width", Math.abs(px - start));
        self.band.setAttribute("visibility", "visible");
      }
      self.hover(px, ev);
    });
    window.addEventListener("mouseup", function (ev) {
      if (start === null) return;
      var px = self.local(ev).x, a = Math.min(start, px), b = Math.max(start, px);
      start = null;
      self.band.setAttribute("visibility", "hidden");
      if (b - a > 3) self.zoom(self.xAt(a), self.xAt(b));
    });
    area.addEventListener("mouseleave", function () {
      self.cursor.setAttribute("visibility", "hidden");
      self.tip.hidden = true;
    });
    area.addEventListener("dblclick", function () {
      self.range = self.full.slice();
      self.draw();
    });
    area.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var at = self.xAt(self.local(ev).x), f = Math.pow(1.2, ev.deltaY > 0 ? 1 : -1);
      self.zoom(at - (at - self.range[0]) * f, at + (self.range[1] - at) * f);
    }, {passive: false});
  };

  /* Show the values of the point nearest to the pointer at svg x ``px``. */
  Plot.prototype.hover = function (px, ev) {
    var s = this.s, x = s.x, v = this.xAt(px), i = lower(x, v);
    if (i > 0 && (i === x.length || v - x[i - 1] < x[i] - v)) i -= 1;
    var cx = this.sx(x[i]), line = this.cursor.firstChild;
    line.setAttribute("x1", cx);
    line.setAttribute("x2", cx);
    this.cursor.setAttribute("visibility", "visible");
    var rows;
    if (s.series) {  /* a range curve shows its y: the half-width of its band */
      rows = [[s.xlabel, x[i]]].concat(s.series.map(function (c) { return [c.label, c.y[i]]; }));
    } else {
      rows = [["Raman shift", x[i]], ["data", s.y[i]], ["fit", s.fit[i]],
              ["baseline", s.baseline[i]], ["residual", s.residual[i]]];
      s.bands.forEach(function (b) { rows.push([b.label, b.y[i]]); });
    }
    var tip = this.tip;
    tip.textContent = "";
    tip.dataset.index = i;
    rows.forEach(function (r) {
      var row = document.createElement("div"), k = document.createElement("span");
      k.textContent = r[0];
      var val = document.createElement("b");
      val.textContent = fmt(r[1]);
      val.dataset.value = r[1];
      row.dataset.name = r[0];
      row.appendChild(k);
      row.appendChild(val);
      tip.appendChild(row);
    });
    tip.hidden = false;
    var box = this.host.getBoundingClientRect(), left = ev.clientX - box.left + 14;
    if (left + tip.offsetWidth > box.width) left = ev.clientX - box.left - tip.offsetWidth - 14;
    tip.style.left = left + "px";
    tip.style.top = (ev.clientY - box.top + 14) + "px";
  };

  window.NmcramanPlot = {Plot: Plot, ticks: ticks, fmt: fmt};
  var figures = document.querySelectorAll(".figure");
  if (!figures.length) return;
  var data = JSON.parse(document.getElementById("nmcraman-data").textContent);
  figures.forEach(function (host) {
    host.plot = new Plot(host, data.spectra[Number(host.dataset.index)]);
  });
})();
