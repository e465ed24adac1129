/* Two diagrams side by side with the differences marked: added and changed on the new one, removed on the old. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("diff-data").textContent);
  document.querySelectorAll(".diff-view").forEach(function (container) {
    var viewer = new window.BpmnJS({ container: container });
    var side = container.dataset.side;
    fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var registry = viewer.get("elementRegistry");
        var canvas = viewer.get("canvas");
        var overlays = viewer.get("overlays");
        Object.keys(data.markers).forEach(function (id) {
          var kind = data.markers[id];
          if ((side === "base") !== (kind === "removed") || !registry.get(id)) { return; }
          canvas.addMarker(id, "diff-" + kind);
          var count = data.waiting[id];
          if (count) {
            var badge = document.createElement("span");
            badge.className = "diff-waiting";
            badge.title = count + " dossier(s) en attente sur cette étape";
            badge.textContent = count;
            overlays.add(id, { position: { top: -10, right: 10 }, html: badge });
          }
        });
        canvas.zoom("fit-viewport");
        container.dataset.loaded = "true";
      })
      .catch(function (err) { container.textContent = "Diagramme illisible : " + err.message; });
  });
})();
