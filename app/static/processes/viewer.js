/* Read-only diagram of one version. */
(function () {
  "use strict";
  var canvas = document.getElementById("canvas");
  var status = document.getElementById("viewer-status");
  var viewer = new window.BpmnJS({ container: canvas });
  window.processViewer = viewer;
  fetch(canvas.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () { viewer.get("canvas").zoom("fit-viewport"); canvas.dataset.loaded = "true"; })
    .catch(function (err) { status.textContent = "Impossible d'afficher ce diagramme : " + err.message; canvas.dataset.loaded = "error"; });
})();
