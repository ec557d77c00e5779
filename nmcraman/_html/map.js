/* nmcraman map pages: a parameter image with a colour bar, and each pixel's bands.
   No dependencies and no network. The image shown is named in the canvas element's
   data-quantity and data-band attributes; the pixel shown in .pixel's data-pixel
   (the browser tests read them). */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("nmcraman-data").textContent);
  var N = D.rows * D.cols;
  /* viridis, nine stops */
  var STOPS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
               [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  var canvas = document.querySelector("canvas.map");
  var bar = document.querySelector(".colorbar");
  var panel = document.querySelector(".pixel");
  var controls = document.querySelector(".controls");
  var marker = document.querySelector(".marker");

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
  band.value = String(D.bands.length - 1);
  other.value = "0";

  function bits(v) { var n = 0; while (v) { n += v & 1; v >>= 1; } return n; }

  /* The values of the image chosen, one per pixel (null where undefined). */
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
    var q = quantity.value, v = values(), lo = Infinity, hi = -Infinity, i;
    other.parentNode.hidden = q !== "ratio";
    band.parentNode.hidden = q.indexOf("stat:") === 0;
    for (i = 0; i < N; i++) {
      if (v[i] === null || !isFinite(v[i])) continue;
      lo = Math.min(lo, v[i]);
      hi = Math.max(hi, v[i]);
    }
    canvas.width = D.cols;
    canvas.height = D.rows;
    var side = 520, wide = D.cols >= D.rows;
    canvas.style.width = (wide ? side : Math.max(side * D.cols / D.rows, 24)) + "px";
    canvas.style.height = (wide ? Math.max(side * D.rows / D.cols, 24) : side) + "px";
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(D.cols, D.rows);
    for (i = 0; i < N; i++) {
      var rgb = v[i] === null || !isFinite(v[i]) ? [190, 190, 190]
        : color(hi > lo ? (v[i] - lo) / (hi - lo) : 0.5);
      img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    canvas.dataset.quantity = q;
    canvas.dataset.band = q.indexOf("stat:") === 0 ? "" : D.bands[Number(band.value)];
    canvas.dataset.min = lo;
    canvas.dataset.max = hi;
    drawBar(lo, hi);
  }

  function drawBar(lo, hi) {
    var stops = STOPS.map(function (c, k) {
      return "rgb(" + c.join(",") + ") " + (100 * k / (STOPS.length - 1)) + "%";
    });
    bar.textContent = "";
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

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  /* Show pixel ``p``'s position, QC flags and band table. */
  function show(p) {
    var P = D.params, row = Math.floor(p / D.cols), col = p % D.cols, where = [];
    panel.textContent = "";
    panel.dataset.pixel = p;
    var h = document.createElement("h3");
    where.push("row " + row + ", column " + col);
    if (D.coords) where.push("x " + fmt(D.coords[0][p]) + " µm, y " + fmt(D.coords[1][p]) + " µm");
    if (D.names) where.push(D.names[p]);
    h.textContent = "Pixel " + where.join("; ");
    panel.appendChild(h);
    var qc = D.qc_names.filter(function (n, k) { return D.flags[p] >> k & 1; });
    var flags = document.createElement("p");
    flags.className = "qcline";
    flags.textContent = "QC flags: " + (qc.join(", ") || "none");
    panel.appendChild(flags);
    var table = document.createElement("table"), head = table.insertRow();
    table.className = "bands";
    ["Band", "Position (cm-1)", "FWHM (cm-1)", "Area (%)", "Flag"].forEach(function (t) {
      var th = document.createElement("th");
      th.textContent = t;
      if (t === "Flag") th.className = "flag";
      head.appendChild(th);
    });
    D.bands.forEach(function (id, b) {
      if (P.position[b][p] === null) return;
      var tr = table.insertRow();
      tr.dataset.band = id;
      tr.appendChild(cell(D.labels[b]));
      [["position", 1], ["fwhm", 1], ["area_pct", 1]].forEach(function (c) {
        var td = cell(fmt(P[c[0]][b][p], c[1]) + " ± " + fmt(P[c[0] + "_err"][b][p], c[1]));
        td.dataset.col = c[0];
        td.dataset.value = P[c[0]][b][p];
        tr.appendChild(td);
      });
      tr.appendChild(cell(D.band_flag_text[D.band_flags[p][b]], "flag"));
    });
    panel.appendChild(table);
  }

  canvas.addEventListener("click", function (ev) {
    var box = canvas.getBoundingClientRect();
    var col = Math.floor((ev.clientX - box.left) / box.width * D.cols);
    var row = Math.floor((ev.clientY - box.top) / box.height * D.rows);
    if (col >= 0 && col < D.cols && row >= 0 && row < D.rows) {
      show(row * D.cols + col);
      marker.style.left = (100 * col / D.cols) + "%";
      marker.style.top = (100 * row / D.rows) + "%";
      marker.style.width = (100 / D.cols) + "%";
      marker.style.height = (100 / D.rows) + "%";
      marker.hidden = false;
    }
  });
  draw();
})();
