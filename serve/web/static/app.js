// rcmlake dashboard: draws the charts from the data the server embedded in the page
// (no inline script, so the Content-Security-Policy can forbid inline code).
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  var palette = ["#1f5fbf", "#17803d", "#b45309", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f", "#9a3412", "#334155", "#a16207"];

  ready(function () {
    // Choosing a hospital changes which departments exist: reload the filter form.
    var hosp = document.getElementById("f-hospital");
    if (hosp) hosp.addEventListener("change", function () {
      var dep = document.getElementById("f-department");
      if (dep) dep.value = "";
    });
    var el = document.getElementById("dash-data");
    if (!el || typeof Chart === "undefined") return;
    var d = JSON.parse(el.textContent);
    if (typeof d === "string") d = JSON.parse(d);
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.animation = false;

    document.querySelectorAll("canvas[data-spark]").forEach(function (c) {
      var s = (d.series || {})[c.dataset.spark] || [];
      new Chart(c, {
        type: "line",
        data: { labels: d.months, datasets: [{ data: s, borderColor: "#1f5fbf", borderWidth: 2, pointRadius: 0, tension: 0.3 }] },
        options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false }, tooltip: { enabled: false } },
          scales: { x: { display: false }, y: { display: false } } }
      });
    });
    var aging = document.getElementById("chart-aging");
    if (aging && d.aging) new Chart(aging, {
      type: "bar",
      data: { labels: d.aging.map(function (a) { return a.label + " days"; }),
        datasets: [{ label: "A/R", data: d.aging.map(function (a) { return a.value; }), backgroundColor: ["#17803d", "#65a30d", "#ca8a04", "#ea580c", "#b91c1c"] }] },
      options: { responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return money.format(c.parsed.y); } } } },
        scales: { y: { ticks: { callback: function (v) { return money.format(v); } } } } }
    });
    var trend = document.getElementById("chart-trend");
    if (trend && d.series) new Chart(trend, {
      data: { labels: d.months, datasets: [
        { type: "line", label: "Gross charges", data: d.series.gross_charges, borderColor: "#1f5fbf", backgroundColor: "#1f5fbf", yAxisID: "y" },
        { type: "line", label: "Payments", data: d.series.payments, borderColor: "#17803d", backgroundColor: "#17803d", yAxisID: "y" },
        { type: "bar", label: "Denied claims", data: d.series.claims_denied, backgroundColor: "rgba(185,28,28,.45)", yAxisID: "y2" }
      ] },
      options: { responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: { y: { position: "left", ticks: { callback: function (v) { return money.format(v); } } },
          y2: { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "denied claims" } } } }
    });
    var payers = document.getElementById("chart-payers");
    if (payers && d.payer_mix) new Chart(payers, {
      type: "doughnut",
      data: { labels: d.payer_mix.map(function (p) { return p.label; }),
        datasets: [{ data: d.payer_mix.map(function (p) { return p.value; }), backgroundColor: palette }] },
      options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "right" }, tooltip: { callbacks: { label: function (c) { return c.label + ": " + money.format(c.parsed); } } } } }
    });
  });
})();
