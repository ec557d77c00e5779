/* nmcraman map pages: a parameter image with a colour bar and axes, and each pixel's
   fit and bands. No dependencies and no network; needs plot.js (window.NmcramanPlot)
   before it. Row 0 of the map is the top row of the image, as in MapResult.plot. The
   image shown is named in the canvas element's data-quantity and data-band attributes;
   the pixel shown in .pixel's and .pixelfit's data-pixel (the browser tests read them).
   A pooled map's phases are drawn one colour per phase (D.phase_key, the colours of
   MapResult.plot) with a key of those colours instead of the colour bar.
   window.NmcramanMap.curves(p) gives pixel p's curves, as MapResult.curves does, once
   window.NmcramanMap.ready has resolved.
   A series of maps (D.series: steps along one dimension, each a D.rows x D.cols map)
   gets a slider over the steps; the data hold every step's pixels, step after step,
   so pixel p of step k is g = k * N + p in MapResult's flat order. .pixel's and
   .pixelfit's data-pixel is that g, .pixel's data-step the step. The trend plot
   (.trend, plot.js) gives each step's mean over pixels of the image shown, +- its
   standard error (sd / sqrt(n), sd with n - 1, over the pixels with a value). */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("nmcraman-data").textContent);
  var N = D.rows * D.cols, S = D.series ? D.series.steps : 1;
  var step = 0, chosen = null;  /* the step shown; the pixel clicked (in a step), if any */
  var PLOT = window.NmcramanPlot;
  /* viridis, nine stops */
  var STOPS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
               [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  /* Peak heights of unit-area, unit-FWHM profiles (nmcraman.lineshapes). */
  var LORENTZ_PEAK = 2 / Math.PI, GAUSS_PEAK = 2 * Math.sqrt(Math.LN2 / Math.PI);
  var canvas = document.querySelector("canvas.map");
  var bar = document.querySelector(".colorbar");
  var panel = document.querySelector(".pixel");
  var figure = document.querySelector(".pixelfit");
  var controls = document.querySelector(".controls");
  var marker = document.querySelector(".marker");
  var trend = document.querySelector(".trend");

  function color(t) {
    var f = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1), i = Math.min(Math.floor(f), 7);
    var a = STOPS[i], b = STOPS[i + 1], u = f - i;
    return [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * u); });
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return digits === undefined ? String(Number(v.toPrecision(4))) : v.toFixed(digits);
  }

  function select(name, options) {
    var label = document.createElement("label"), sel = document.createElement("select");
    label.textContent = name + " ";
    sel.name = name;
    options.forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o[0];
      opt.textContent = o[1];
      sel.appendChild(opt);
    });
    label.appendChild(sel);
    controls.appendChild(label);
    sel.addEventListener("change", draw);
    return sel;
  }

  var qopts = Object.keys(D.quantities).map(function (k) { return [k, D.quantities[k]]; });
  qopts.push(["ratio", "Area ratio A / B"]);
  Object.keys(D.stat_names).forEach(function (k) { qopts.push(["stat:" + k, D.stat_names[k]]); });
  var bopts = D.bands.map(function (b, i) { return [String(i), D.labels[i]]; });
  var quantity = select("Show", qopts);
  var band = select("Band", bopts);
  var other = select("B", bopts);
  /* The page opens on an image every fitted pixel has (results/html/map.py first_image). */
  quantity.value = D.first.quantity;
  band.value = String(D.bands.indexOf(D.first.band));
  other.value = "0";

  /* A series: the slider over its steps, its label, and the choice of colour scale. */
  var slider = null, stepLabel = null, everyStep = null;
  if (D.series) {
    var box = document.createElement("div"), label = document.createElement("label");
    box.className = "stepper";
    slider = document.createElement("input");
    slider.type = "range";
    slider.name = "step";
    slider.min = 0;
    slider.max = S - 1;
    slider.step = 1;
    slider.value = 0;
    slider.setAttribute("aria-label", D.series.dim);
    stepLabel = document.createElement("output");
    stepLabel.className = "steplabel";  /* the dimension and the step's coordinates */
    label.appendChild(slider);
    label.appendChild(stepLabel);
    box.appendChild(label);
    var scale = document.createElement("label");
    everyStep = document.createElement("input");
    everyStep.type = "checkbox";
    everyStep.name = "every_step";
    everyStep.checked = true;
    scale.appendChild(everyStep);
    scale.appendChild(document.createTextNode(" one colour scale for every step"));
    box.appendChild(scale);
    controls.appendChild(box);
    slider.addEventListener("input", function () {
      step = Number(slider.value);
      draw();
      if (chosen !== null) show(chosen);
    });
    everyStep.addEventListener("change", draw);
  }

  function bits(v) { var n = 0; while (v) { n += v & 1; v >>= 1; } return n; }

  /* The colour of phase label ``k`` (D.phase_key: the labels and their colours). */
  function phaseColour(k) {
    return D.phase_key.colours[D.phase_key.labels.indexOf(k)];
  }

  /* The values of the image chosen, one per pixel of every step (null where
     undefined). */
  function values() {
    var q = quantity.value, b = Number(band.value);
    if (q === "ratio") {
      var a = D.params.area[b], c = D.params.area[Number(other.value)];
      return a.map(function (v, i) { return v !== null && c[i] > 0 ? v / c[i] : null; });
    }
    if (q === "stat:flags") return D.flags.map(bits);
    if (q.indexOf("stat:") === 0) return D.stats[q.slice(5)];
    return D.params[q][b];
  }

  function draw() {
    var q = quantity.value, all = values(), lo = Infinity, hi = -Infinity, i;
    var v = all.slice(step * N, (step + 1) * N);
    var phases = q === "stat:phase" && D.phase_key !== undefined;
    other.parentNode.hidden = q !== "ratio";
    band.parentNode.hidden = q.indexOf("stat:") === 0;
    /* The colour bar spans every step of a series, unless asked for this step's. */
    var scaled = everyStep && everyStep.checked ? all : v;
    for (i = 0; i < scaled.length; i++) {
      if (scaled[i] === null || !isFinite(scaled[i])) continue;
      lo = Math.min(lo, scaled[i]);
      hi = Math.max(hi, scaled[i]);
    }
    canvas.width = D.cols;
    canvas.height = D.rows;
    var side = 520, wide = D.cols >= D.rows;
    canvas.style.width = (wide ? side : Math.max(side * D.cols / D.rows, 24)) + "px";
    canvas.style.height = (wide ? Math.max(side * D.rows / D.cols, 24) : side) + "px";
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(D.cols, D.rows);
    for (i = 0; i < N; i++) {
      var rgb = v[i] === null || !isFinite(v[i]) ? [190, 190, 190]
        : phases ? phaseColour(v[i]) : color(hi > lo ? (v[i] - lo) / (hi - lo) : 0.5);
      img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    canvas.dataset.quantity = q;
    canvas.dataset.band = q.indexOf("stat:") === 0 ? "" : D.bands[Number(band.value)];
    canvas.dataset.min = lo;
    canvas.dataset.max = hi;
    canvas.dataset.step = step;
    if (phases) drawKey(); else drawBar(lo, hi);
    if (D.series) {
      stepLabel.textContent = D.series.labels[step];
      drawTrend(all, phases);
    }
  }

  /* Each step's mean of ``v`` (every step's pixels) over the pixels with a value, its
     standard error (null for fewer than two), sd and count. */
  function means(v) {
    var out = {mean: [], err: [], sd: [], n: []};
    for (var k = 0; k < S; k++) {
      var n = 0, sum = 0, ss = 0, i, x;
      for (i = k * N; i < (k + 1) * N; i++) {
        x = v[i];
        if (x === null || !isFinite(x)) continue;
        n += 1;
        sum += x;
      }
      var mean = n ? sum / n : null;
      for (i = k * N; i < (k + 1) * N && n > 1; i++) {
        x = v[i];
        if (x !== null && isFinite(x)) ss += (x - mean) * (x - mean);
      }
      var sd = n > 1 ? Math.sqrt(ss / (n - 1)) : null;
      out.mean.push(mean);
      out.sd.push(sd);
      out.err.push(sd === null ? null : sd / Math.sqrt(n));
      out.n.push(n);
    }
    return out;
  }

  /* The name of the image shown, for the trend plot's y axis. */
  function shownName() {
    var q = quantity.value, text = function (sel) {
      return sel.options[sel.selectedIndex].textContent;
    };
    if (q === "ratio") return "Area " + text(band) + " / " + text(other);
    if (q.indexOf("stat:") === 0) return text(quantity);
    return text(quantity) + ", " + text(band);
  }

  /* The trend plot of the image shown (not of phase labels, whose mean means nothing). */
  function drawTrend(all, phases) {
    var was = trend.plot;
    trend.textContent = "";
    trend.plot = undefined;
    trend.dataset.step = step;
    if (phases) {
      var note = document.createElement("p");
      note.className = "hint";
      note.textContent = "Phase labels have no mean: choose another image for its trend.";
      trend.appendChild(note);
      return;
    }
    var t = means(all), lo = [], hi = [], here = [];
    for (var k = 0; k < S; k++) {
      var ok = t.mean[k] !== null && t.err[k] !== null;
      lo.push(ok ? t.mean[k] - t.err[k] : null);
      hi.push(ok ? t.mean[k] + t.err[k] : null);
      here.push(k === step ? t.mean[k] : null);
    }
    var s = {name: "trend of " + shownName(), x: D.series.x, xlabel: D.series.xlabel,
             ylabel: shownName(), trend: t, bands: [], series: [
               {key: "err", label: "± standard error", y: t.err, lo: lo, hi: hi,
                color: "#1f77b4", kind: "range"},
               {key: "mean", label: "mean over pixels", y: t.mean, color: "#000",
                kind: "line"},
               {key: "step", label: "step shown", y: here, color: "#e0115f", kind: "dots"}]};
    trend.plot = new PLOT.Plot(trend, s, was);
  }

  /* The key of a phase image: each label's colour and name, in place of the bar. */
  function drawKey() {
    var list = document.createElement("ul");
    bar.textContent = "";
    bar.classList.add("keyed");
    list.className = "key";
    D.phase_key.labels.forEach(function (k) {
      var item = document.createElement("li"), chip = document.createElement("span");
      chip.className = "chip";
      chip.style.background = "rgb(" + phaseColour(k).join(",") + ")";
      item.dataset.value = k;
      item.appendChild(chip);
      item.appendChild(document.createTextNode(k < 0 ? "not pooled" : String(k)));
      list.appendChild(item);
    });
    bar.appendChild(list);
  }

  function drawBar(lo, hi) {
    var stops = STOPS.map(function (c, k) {
      return "rgb(" + c.join(",") + ") " + (100 * k / (STOPS.length - 1)) + "%";
    });
    bar.textContent = "";
    bar.classList.remove("keyed");
    var grad = document.createElement("div");
    grad.className = "gradient";
    grad.style.background = "linear-gradient(to top, " + stops.join(", ") + ")";
    var top = document.createElement("span"), bottom = document.createElement("span");
    top.className = "max";
    bottom.className = "min";
    top.textContent = isFinite(hi) ? fmt(hi) : "–";
    bottom.textContent = isFinite(lo) ? fmt(lo) : "–";
    bar.appendChild(top);
    bar.appendChild(grad);
    bar.appendChild(bottom);
  }

  /* Ticks of one image axis (D.axes[name]: label, values at the first and last pixel
     centres, whether an index) over its ``n`` pixels; ``along`` is "left" or "top". */
  function drawAxis(box, a, n, along) {
    var lo = Math.min(a.first, a.last), hi = Math.max(a.first, a.last);
    var count = a.index ? Math.max(Math.min(6, hi - lo), 1) : 6;
    var ts = n > 1 ? PLOT.ticks(lo, hi, count) : [a.first];
    box.textContent = "";
    ts.forEach(function (t) {
      if (a.index) t = Math.round(t);
      var at = n > 1 ? ((t - a.first) / (a.last - a.first) * (n - 1) + 0.5) / n : 0.5;
      var tick = document.createElement("span");
      tick.className = "tick";
      tick.textContent = PLOT.fmt(t);
      tick.dataset.value = t;
      tick.style[along] = (100 * at) + "%";
      box.appendChild(tick);
    });
    var label = document.createElement("span");
    label.className = "label";
    label.textContent = a.label;
    box.appendChild(label);
  }

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function number(col, v, digits) {
    var span = document.createElement("span");
    span.dataset.col = col;
    span.dataset.value = v;
    span.textContent = fmt(v, digits);
    return span;
  }

  /* Decimals that show ``v`` with 4 significant digits (results/html/page.py _decimals). */
  function decimals(v) {
    v = Math.abs(v);
    return v === null || !isFinite(v) || v === 0 ? 0 : Math.max(0, 3 - Math.floor(Math.log10(v)));
  }

  /* The flag of band ``b``'s row of MapResult.table at pixel ``p``: the band's own
     flags, then the pixel's flags that do not only summarise band flags. */
  function rowFlag(p, b) {
    var parts = [], own = D.flags[p] & ~D.band_summary_flags;
    var text = D.band_flag_text[D.band_flags[p][b]];
    if (text !== "ok") parts.push(text);
    D.qc_names.forEach(function (name, k) { if (own >> k & 1) parts.push(name); });
    return parts.join(";") || "ok";
  }

  function bandTable(p) {
    var P = D.params, table = document.createElement("table"), head = table.createTHead().insertRow();
    var body = table.createTBody();
    table.className = "bands";
    ["Band"].concat(D.columns.map(function (c) { return c[0]; }), ["Flag"]).forEach(function (t) {
      var th = document.createElement("th");
      th.textContent = t;
      if (t === "Flag") th.className = "flag";
      head.appendChild(th);
    });
    D.bands.forEach(function (id, b) {
      if (P.position[b][p] === null) return;
      var tr = body.insertRow(), flag = rowFlag(p, b);
      tr.dataset.band = id;
      tr.appendChild(cell(D.labels[b]));
      D.columns.forEach(function (c) {
        var v = P[c[1]][b][p], digits = c[3] === null ? decimals(v) : c[3], td = cell("");
        td.appendChild(number(c[1], v, digits));
        if (c[2] !== null) {
          td.appendChild(document.createTextNode(" ± "));
          td.appendChild(number(c[2], P[c[2]][b][p], digits));
        }
        tr.appendChild(td);
      });
      tr.appendChild(cell(flag, "flag"));
      if (flag !== "ok") tr.className = "flagged";
    });
    return table;
  }

  /* Show pixel ``p`` of the step shown: its position, QC flags, band table and fit. */
  function show(q) {
    var row = Math.floor(q / D.cols), col = q % D.cols, where = [], p = step * N + q;
    panel.textContent = "";
    panel.dataset.pixel = p;
    panel.dataset.step = step;
    var h = document.createElement("h3");
    where.push("row " + row + ", column " + col);
    if (D.series) where.push(D.series.labels[step]);
    if (D.coords) where.push("x " + fmt(D.coords[0][p]) + " µm, y " + fmt(D.coords[1][p]) + " µm");
    if (D.names) where.push(D.names[p]);
    h.textContent = "Pixel " + where.join("; ");
    panel.appendChild(h);
    var qc = D.qc_names.filter(function (n, k) { return D.flags[p] >> k & 1; });
    var flags = document.createElement("p");
    flags.className = "qcline";
    flags.textContent = "QC flags: " + (qc.join(", ") || "none");
    panel.appendChild(flags);
    if (D.stats.phase) {  /* a pooled map: the phase the pixel was pooled in */
      var phase = document.createElement("p"), k = D.stats.phase[p];
      phase.className = "phaseline";
      phase.dataset.phase = k;
      phase.textContent = "Phase: " + (k < 0 ? "not pooled" : k);
      panel.appendChild(phase);
    }
    panel.appendChild(bandTable(p));
    if (!D.fits) {
      var note = document.createElement("p");
      note.className = "hint";
      note.textContent = "This map kept no spectra (keep_spectra=False), so no fit is drawn.";
      panel.appendChild(note);
      return;
    }
    ready.then(function () {
      var was = figure.plot;
      figure.textContent = "";
      figure.hidden = false;
      figure.plot = new PLOT.Plot(figure, curves(p), was);
      figure.dataset.pixel = p;
    });
  }

  /* ---------------------------------------------------------------- the fits */

  /* Inflate packed codes (results/html/map.py packed): a promise of a Uint16Array, rows x points. */
  function unpack(q, n) {
    var bin = atob(q.codes), bytes = new Uint8Array(bin.length), i;
    for (i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buf) {
      var u = new Uint8Array(buf), m = q.rows * n, codes = new Uint16Array(m);
      for (i = 0; i < m; i++) codes[i] = u[i] << 8 | u[m + i];
      for (var k = 0; k < q.order; k++) {
        for (var r = 0; r < q.rows; r++) {
          // Running sums, modulo 2**16 as a Uint16Array stores them.
          for (i = r * n + 1; i < (r + 1) * n; i++) codes[i] = codes[i] + codes[i - 1];
        }
      }
      return codes;
    });
  }

  var codes = {};
  var ready = !D.fits ? Promise.resolve() : Promise.all(["data", "initial"].map(function (k) {
    if (!D.fits[k]) return null;
    return unpack(D.fits[k], D.fits.x.length).then(function (c) { codes[k] = c; });
  }));
  ready.catch(function (err) {
    figure.hidden = false;
    figure.textContent = "This browser cannot read the spectra of this page: " + err;
  });

  /* Values of pixel ``p`` of packed codes ``q`` (null where missing). */
  function valuesOf(k, p) {
    var q = D.fits[k], n = D.fits.x.length, c = codes[k], out = new Array(n);
    for (var i = 0; i < n; i++) {
      var code = c[p * n + i];
      out[i] = code === D.fits.missing ? null : q.offset[p] + q.step[p] * code;
    }
    return out;
  }

  /* A band of ``area``, ``centre`` and ``fwhm`` on ``x`` (nmcraman.lineshapes). */
  function profile(shape, x, area, centre, fwhm, eta) {
    var mix = shape === "lorentzian" ? 1 : shape === "gaussian" ? 0 : eta;
    return x.map(function (v) {
      var u = (v - centre) / fwhm;
      return mix * (area * LORENTZ_PEAK / fwhm / (1 + 4 * u * u)) +
        (1 - mix) * (area * GAUSS_PEAK / fwhm * Math.exp(-4 * Math.LN2 * u * u));
    });
  }

  /* Pixel ``p``'s baseline: the joint polynomial (Legendre, nmcraman.baseline) plus any
     starting baseline; null everywhere for a pixel not fitted (no reduced chi2), and
     outside the pixel's own window when windows were chosen per pixel. */
  function baseline(p) {
    var x = D.fits.x, n = x.length, x0 = x[0], x1 = x[n - 1];
    var coef = D.fits.baseline_coef.map(function (c) { return c[p]; });
    if (D.stats.redchi[p] === null) return x.map(function () { return null; });
    var start = codes.initial ? valuesOf("initial", p) : null;
    var win = D.fits.window ? [D.fits.window[0][p], D.fits.window[1][p]] : null;
    return x.map(function (v, i) {
      if (win && (v < win[0] || v > win[1])) return null;
      var t = (2 * v - (x0 + x1)) / (x1 - x0), p0 = 1, p1 = t, sum = 0;
      for (var k = 0; k < coef.length; k++) {
        var pk = k === 0 ? 1 : k === 1 ? t : ((2 * k - 1) * t * p1 - (k - 1) * p0) / k;
        if (k >= 2) { p0 = p1; p1 = pk; }
        sum += coef[k] * pk;
      }
      return start ? (start[i] === null ? null : sum + start[i]) : sum;
    });
  }

  /* Pixel ``p``'s data, baseline, bands, fit and residual, as the plot takes them. */
  function curves(p) {
    var P = D.params, x = D.fits.x, shape = D.fits.shape, bands = [];
    var data = valuesOf("data", p), base = baseline(p);
    D.bands.forEach(function (id, b) {
      if (P.position[b][p] === null) return;
      var eta = shape === "pseudo_voigt" ? D.stats.eta[p] : null;
      bands.push({id: id, label: D.labels[b],
                  y: profile(shape, x, P.area[b][p], P.position[b][p], P.fwhm[b][p], eta)});
    });
    var fit = base.map(function (v, i) {
      return v === null ? null : bands.reduce(function (t, bd) { return t + bd.y[i]; }, v);
    });
    var residual = data.map(function (v, i) {
      return v === null || fit[i] === null ? null : v - fit[i];
    });
    return {name: "pixel " + p, x: x, y: data, baseline: base, fit: fit, residual: residual,
            bands: bands};
  }

  canvas.addEventListener("click", function (ev) {
    var box = canvas.getBoundingClientRect();
    var col = Math.floor((ev.clientX - box.left) / box.width * D.cols);
    var row = Math.floor((ev.clientY - box.top) / box.height * D.rows);
    if (col >= 0 && col < D.cols && row >= 0 && row < D.rows) {
      chosen = row * D.cols + col;
      show(chosen);
      marker.style.left = (100 * col / D.cols) + "%";
      marker.style.top = (100 * row / D.rows) + "%";
      marker.style.width = (100 / D.cols) + "%";
      marker.style.height = (100 / D.rows) + "%";
      marker.hidden = false;
    }
  });
  draw();
  drawAxis(document.querySelector(".xaxis"), D.axes.x, D.cols, "left");
  drawAxis(document.querySelector(".yaxis"), D.axes.y, D.rows, "top");
  window.NmcramanMap = {curves: curves, profile: profile, ready: ready};
})();
