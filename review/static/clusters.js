// omnitriage cluster pages: draws the daily trend charts with uPlot from
// the numbers the page carries (data-chart, data-spark). Without this
// script the page shows the same numbers as a table and as text.
(function () {
  "use strict";
  function parse(el, attr) {
    try { return JSON.parse(el.getAttribute(attr)); } catch (e) { return null; }
  }
  function xs(days) {
    return days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
  }
  function chart(el) {
    var d = parse(el, "data-chart");
    if (!d || !d.days || !window.uPlot) return false;
    var width = Math.max(280, el.clientWidth || 600);
    var opts = {
      width: width, height: 260, tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.15)]; } } },
      axes: [{ space: 70, values: "{D} {MMM}" }, { size: 44 }],
      legend: { show: true },
      series: [{ label: "day", value: "{YYYY}-{MM}-{DD}" },
        { label: el.getAttribute("data-label") || "count", stroke: "#1f5fbf", fill: "rgba(31,95,191,.12)", width: 2, points: { show: true, size: 5 } }]
    };
    new window.uPlot(opts, [xs(d.days), d.counts], el);
    return true;
  }
  function spark(el) {
    var d = parse(el, "data-spark");
    if (!d || !d.days || !window.uPlot) return;
    var opts = {
      width: 120, height: 30, pxAlign: false, cursor: { show: false }, legend: { show: false }, select: { show: false },
      scales: { x: { time: false }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: "#1f5fbf", fill: "rgba(31,95,191,.15)", width: 1.5, points: { show: false } }]
    };
    var label = el.textContent.trim();
    el.textContent = "";
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", "per day: " + label);
    new window.uPlot(opts, [d.days.map(function (_, i) { return i; }), d.counts], el);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var drawn = false;
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (el) { drawn = chart(el) || drawn; });
    if (drawn) document.body.classList.add("js-charts");
    Array.prototype.forEach.call(document.querySelectorAll("[data-spark]"), spark);
  });
})();
