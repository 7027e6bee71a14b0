// omnitriage process dashboard: draws each figure's daily trend with uPlot
// (vendored in vendor/uplot) from the numbers the page carries in data-
// attributes. Without this script the same numbers are in each card's
// "By day" table.
(function () {
  "use strict";
  if (typeof uPlot === "undefined") { return; }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // durationScale picks the unit that reads best for the largest value.
  function durationScale(max) {
    if (max >= 2 * 86400) { return { div: 86400, unit: "d" }; }
    if (max >= 90 * 60) { return { div: 3600, unit: "h" }; }
    if (max >= 90) { return { div: 60, unit: "min" }; }
    return { div: 1, unit: "s" };
  }

  function draw(el) {
    var days = JSON.parse(el.dataset.days || "[]");
    var values = JSON.parse(el.dataset.values || "[]");
    if (!days.length) { return null; }
    var xs = days.map(function (d) { return Date.parse(d + "T12:00:00Z") / 1000; });
    var unit = el.dataset.unit, suffix = "", div = 1;
    var max = 0;
    values.forEach(function (v) { if (v !== null && v > max) { max = v; } });
    if (unit === "duration") {
      var sc = durationScale(max); div = sc.div; suffix = " " + sc.unit;
    } else if (unit === "share") {
      suffix = "%";
    }
    var ys = values.map(function (v) { return v === null ? null : v / div; });
    var points = ys.filter(function (v) { return v !== null; }).length;
    var opts = {
      width: Math.max(200, el.clientWidth),
      height: 110,
      legend: { show: false },
      cursor: { y: false, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: function (u, lo, hi) { return [Math.min(0, lo), hi > 0 ? hi * 1.15 : 1]; } } },
      axes: [
        { stroke: "#4a5666", grid: { stroke: "#e3e8ee" }, ticks: { stroke: "#cfd6df" }, size: 28,
          values: function (u, ticks) { return ticks.map(function (t) { var d = new Date(t * 1000); return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()]; }); } },
        { stroke: "#4a5666", grid: { stroke: "#e3e8ee" }, ticks: { stroke: "#cfd6df" }, size: 64,
          values: function (u, ticks) { return ticks.map(function (t) { return (Math.round(t * 10) / 10) + suffix; }); } }
      ],
      series: [
        {},
        { label: el.dataset.label, stroke: "#1f57c3", width: 2, fill: "rgba(31, 87, 195, 0.10)", spanGaps: false,
          points: { show: points <= 31, size: 5, fill: "#1f57c3" } }
      ]
    };
    var plot = new uPlot(opts, [xs, ys], el);
    el.classList.add("drawn");
    el.dataset.points = String(points);
    return plot;
  }

  function init() {
    var plots = [];
    document.querySelectorAll(".card .chart").forEach(function (el) {
      var p = draw(el);
      if (p) { plots.push([p, el]); }
    });
    var t = null;
    window.addEventListener("resize", function () {
      clearTimeout(t);
      t = setTimeout(function () {
        plots.forEach(function (pe) { pe[0].setSize({ width: Math.max(200, pe[1].clientWidth), height: 110 }); });
      }, 100);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
