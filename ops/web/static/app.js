// leadscore ui: pairs sliders with number fields, marks busy buttons, draws the charts.
// Served by the app itself with htmx and Chart.js (no CDN); nothing inline, so the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var charts = {};
  var pct = function (x) { return (100 * x).toFixed(1) + " %"; };
  var RED = "#b3261e", BLUE = "#1f5fa8", GREY = "#8a8f98", GREEN = "#2e7d32", AMBER = "#b26a00";

  // Slider <-> number field, and moving either ticks its target.
  document.addEventListener("input", function (event) {
    var el = event.target;
    var name = el.getAttribute && el.getAttribute("data-pair");
    if (!name) { return; }
    var other = el.type === "range" ? document.getElementById(name) : document.getElementById(name + "_slider");
    if (other && other.value !== el.value) { other.value = el.value; }
    var use = document.getElementById("use_" + name);
    if (use && !use.checked) { use.checked = true; }
  });

  // A submitted form's button says it is working, and cannot be pressed twice.
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("button[data-busy]");
    if (button) {
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = button.getAttribute("data-busy");
        button.setAttribute("aria-busy", "true");
      }, 0);
    }
  });

  // While htmx waits for an answer the region it will replace is marked busy (assistive
  // technology hears it; the style dims it only past half a second, as the indicator shows).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target) { target.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target) { target.removeAttribute("aria-busy"); }
  });

  function verticalLines(lines) {
    return {
      id: "verticalLines",
      afterDatasetsDraw: function (chart) {
        var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
        lines.forEach(function (line) {
          var px = x.getPixelForValue(line.value);
          if (px < area.left || px > area.right) { return; }
          ctx.save();
          ctx.strokeStyle = line.color; ctx.lineWidth = 2;
          ctx.setLineDash(line.dash || []);
          ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
          ctx.setLineDash([]); ctx.fillStyle = line.color; ctx.font = "12px system-ui, sans-serif";
          ctx.fillText(line.label, Math.min(px + 4, area.right - 60), area.top + 12 + (line.row || 0) * 14);
          ctx.restore();
        });
      }
    };
  }

  function errorBars(low, high, datasetIndex) {
    return {
      id: "errorBars",
      afterDatasetsDraw: function (chart) {
        var meta = chart.getDatasetMeta(datasetIndex), y = chart.scales.y, ctx = chart.ctx;
        ctx.save(); ctx.strokeStyle = "#222"; ctx.lineWidth = 1.5;
        meta.data.forEach(function (point, i) {
          if (low[i] === null || high[i] === null) { return; }
          var top = y.getPixelForValue(high[i]), bottom = y.getPixelForValue(low[i]);
          ctx.beginPath();
          ctx.moveTo(point.x, top); ctx.lineTo(point.x, bottom);
          ctx.moveTo(point.x - 5, top); ctx.lineTo(point.x + 5, top);
          ctx.moveTo(point.x - 5, bottom); ctx.lineTo(point.x + 5, bottom);
          ctx.stroke();
        });
        ctx.restore();
      }
    };
  }

  var builders = {
    distribution: function (d) {
      var centres = d.leads.map(function (_, i) { return (d.edges[i] + d.edges[i + 1]) / 2; });
      return {
        type: "bar",
        data: { datasets: [{ label: "share of leads", data: centres.map(function (c, i) { return { x: c, y: d.leads[i] }; }),
          backgroundColor: BLUE, barPercentage: 1.0, categoryPercentage: 1.0 }] },
        options: { parsing: false, scales: {
          x: { type: "linear", min: 0, max: d.edges[d.edges.length - 1], title: { display: true, text: "probability of converting" } },
          y: { title: { display: true, text: "share of leads" }, ticks: { callback: function (v) { return pct(v); } } } },
          plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return pct(c.parsed.y) + " of leads"; } } } } },
        plugins: [verticalLines([
          { value: d.sql_threshold, color: RED, label: "SQL " + d.sql_threshold.toFixed(4) },
          { value: d.mql_threshold, color: AMBER, dash: [6, 4], label: "MQL " + d.mql_threshold.toFixed(4), row: 1 }])]
      };
    },
    gains: function (d) {
      return {
        type: "line",
        data: { datasets: [
          { label: "model", data: d.share.map(function (s, i) { return { x: s, y: d.recall[i] }; }), borderColor: BLUE, pointRadius: 0, borderWidth: 2 },
          { label: "random order", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: GREY, borderDash: [4, 4], pointRadius: 0, borderWidth: 1 }] },
        options: { parsing: false, scales: {
          x: { type: "linear", min: 0, max: 1, title: { display: true, text: "share of leads, highest scores first" }, ticks: { callback: function (v) { return pct(v); } } },
          y: { min: 0, max: 1, title: { display: true, text: "share of conversions" }, ticks: { callback: function (v) { return pct(v); } } } },
          plugins: { tooltip: { callbacks: { label: function (c) { return pct(c.parsed.x) + " of leads → " + pct(c.parsed.y) + " of conversions"; } } } } },
        plugins: [verticalLines([
          { value: d.sql_share, color: RED, label: "SQL" },
          { value: d.mql_share, color: AMBER, dash: [6, 4], label: "MQL or above", row: 1 }])]
      };
    },
    tiers: function (d) {
      return {
        type: "bar",
        data: { labels: d.tier, datasets: [
          { label: "realised conversion (95 % interval)", data: d.realised, backgroundColor: BLUE },
          { label: "predicted (mean probability served)", data: d.predicted, backgroundColor: GREY }] },
        options: { scales: { y: { beginAtZero: true, suggestedMax: Math.max.apply(null, d.high.concat(d.predicted)) * 1.05,
          ticks: { callback: function (v) { return pct(v); } } } },
          plugins: { tooltip: { callbacks: { label: function (c) {
            return c.dataset.label + ": " + pct(c.parsed.y) + (c.datasetIndex === 0 ? " [" + pct(d.low[c.dataIndex]) + ", " + pct(d.high[c.dataIndex]) + "]" : ""); } } } } },
        plugins: [errorBars(d.low, d.high, 0)]
      };
    },
    weekly: function (d) {
      var colours = { SQL: RED, MQL: AMBER, nurture: GREY };
      return {
        type: "bar",
        data: { labels: d.week, datasets: Object.keys(d.series).map(function (tier) {
          return { label: tier, data: d.series[tier], backgroundColor: colours[tier] || BLUE }; }) },
        options: { scales: { x: { stacked: true, title: { display: true, text: "week starting" } }, y: { stacked: true, title: { display: true, text: "leads entering the tier" } } } }
      };
    },
    calibration: function (d) {
      var top = Math.max.apply(null, d.predicted.concat(d.high, [0.01])) * 1.05;
      return {
        type: "scatter",
        data: { datasets: [
          { label: "realised (95 % interval)", data: d.predicted.map(function (p, i) { return { x: p, y: d.realised[i] }; }), backgroundColor: BLUE, pointRadius: 4 },
          { label: "perfect calibration", type: "line", data: [{ x: 0, y: 0 }, { x: top, y: top }], borderColor: GREY, borderDash: [4, 4], pointRadius: 0 }] },
        options: { parsing: false, scales: {
          x: { min: 0, max: top, title: { display: true, text: "predicted probability (mean per bin)" }, ticks: { callback: function (v) { return pct(v); } } },
          y: { min: 0, max: top, title: { display: true, text: "realised conversion" }, ticks: { callback: function (v) { return pct(v); } } } } },
        plugins: [errorBars(d.low, d.high, 0)]
      };
    }
  };

  function draw(root) {
    if (!window.Chart) { return; }
    (root || document).querySelectorAll("div.chart-data").forEach(function (holder) {
      var data = JSON.parse(holder.getAttribute("data-json"));
      var scope = holder.parentElement;
      scope.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
        var kind = canvas.getAttribute("data-chart");
        if (!data[kind] || !builders[kind]) { return; }
        if (charts[canvas.id]) { charts[canvas.id].destroy(); }
        var config = builders[kind](data[kind]);
        config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
        charts[canvas.id] = new window.Chart(canvas, config);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
