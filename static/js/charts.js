/* Events explorer: draws each [data-chart] element's daily counts (a json_script beside it) with
   the vendored uPlot. Bars, one per day; the larger chart has axes and a hover legend. */
(function () {
  "use strict";

  function draw(box) {
    var source = document.getElementById(box.dataset.chart);
    if (!source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var large = box.classList.contains("large");
    var width = Math.max(box.clientWidth, large ? 320 : 160);
    var options = {
      width: width,
      height: large ? 260 : 56,
      legend: { show: large },
      cursor: { show: large, points: { show: false } },
      scales: {
        // half a day of room on either side, so the first and last days' bars are drawn whole
        x: { time: true, range: function (u, min, max) { return [min - 43200, max + 43200]; } },
        y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } }
      },
      axes: large ? [{}, { size: 60 }] : [{ show: false }, { show: false }],
      series: [
        {},
        {
          label: data.label,
          stroke: "#e8380d",
          fill: "rgba(232, 56, 13, 0.35)",
          width: 1,
          paths: uPlot.paths.bars({ size: [0.8, 40] }),
          points: { show: false }
        }
      ]
    };
    box.replaceChildren();
    box.chart = new uPlot(options, [data.days, data.counts], box);
  }

  function drawAll() {
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  drawAll();
  var resizing;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(drawAll, 150);
  });
})();
