/* Draws the dashboard charts from the figures embedded in the page; each chart has its data table beside it. */
(function () {
  "use strict";
  var source = document.getElementById("figures-data");
  if (!source || typeof Chart === "undefined") { return; }
  var figures = JSON.parse(source.textContent);
  var palette = ["#1f5fbf", "#e07b39", "#2e9e6b", "#b54708", "#7a5af8", "#c11574", "#5b6472", "#0e9384"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;

  function draw(canvas, type, labels, datasets, options) {
    return new Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: datasets.length > 1 } } }, options || {})
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    canvas.parentElement.style.position = "relative";
    canvas.style.height = "260px";
    var kind = canvas.dataset.chart;
    if (kind === "volume") {
      var series = figures.volume.series;
      draw(canvas, "bar", series.map(function (s) { return s.bucket; }),
        [{ label: "Dossiers reçus", data: series.map(function (s) { return s.count; }), backgroundColor: palette[0] }]);
    } else if (kind === "breakdown") {
      var items = figures.breakdowns[canvas.dataset.key];
      draw(canvas, "bar", items.map(function (i) { return i.label; }),
        [{ label: "Dossiers", data: items.map(function (i) { return i.count; }), backgroundColor: palette[1] }],
        { indexAxis: "y" });
    } else if (kind === "steps") {
      var steps = figures.processing_time.steps;
      draw(canvas, "bar", steps.map(function (s) { return s.name; }), [
        { label: "Médiane (jours)", data: steps.map(function (s) { return s.median_days; }), backgroundColor: palette[0] },
        { label: "90e centile (jours)", data: steps.map(function (s) { return s.p90_days; }), backgroundColor: palette[3] }
      ], { indexAxis: "y" });
    } else if (kind === "backlog") {
      var backlog = figures.backlog;
      draw(canvas, "bar", backlog.steps.map(function (s) { return s.name; }),
        backlog.buckets.map(function (b, n) {
          return { label: b + " jours", data: backlog.steps.map(function (s) { return s.counts[b]; }),
            backgroundColor: palette[n % palette.length] };
        }), { indexAxis: "y", scales: { x: { stacked: true }, y: { stacked: true } } });
    } else if (kind === "versions") {
      var versions = figures.satisfaction_by_version;
      draw(canvas, "bar", versions.map(function (v) { return v.process_name + " v" + v.version; }),
        [{ label: "Note moyenne (sur 5)", data: versions.map(function (v) { return v.average_score; }),
          backgroundColor: palette[2] }], { scales: { y: { min: 0, max: 5 } } });
    }
  });
}());
