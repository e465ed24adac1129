/* Audit path viewer: marks completed elements (with visit counts), active tokens and the chosen event's step. */
(function () {
  "use strict";
  var box = document.getElementById("audit-diagram");
  var stepsNode = document.getElementById("audit-steps");
  if (!box || !stepsNode || typeof BpmnJS === "undefined") { return; }
  var steps = JSON.parse(stepsNode.textContent);
  var slider = document.getElementById("audit-slider");
  var output = document.getElementById("audit-current");
  var viewer = new BpmnJS({ container: box });
  var marked = [];

  function clear(canvas, overlays) {
    marked.forEach(function (m) { canvas.removeMarker(m[0], m[1]); });
    marked = [];
    overlays.remove({ type: "audit-visits" });
  }

  function mark(canvas, registry, id, cls) {
    if (registry.get(id)) { canvas.addMarker(id, cls); marked.push([id, cls]); }
  }

  function show(index) {
    var step = steps[index];
    if (!step) { return; }
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry"), overlays = viewer.get("overlays");
    clear(canvas, overlays);
    Object.keys(step.visits).forEach(function (id) {
      mark(canvas, registry, id, "audit-done");
      if (registry.get(id)) {
        var badge = document.createElement("span");
        badge.className = "audit-visit-count";
        badge.textContent = String(step.visits[id]);
        badge.title = step.visits[id] + " passage(s)";
        overlays.add(id, "audit-visits", { position: { top: -10, right: 10 }, html: badge });
      }
    });
    var branches = {};  // gateway id -> targets taken: only those flows out of a gateway are marked
    step.taken.forEach(function (pair) { (branches[pair[0]] = branches[pair[0]] || []).push(pair[1]); });
    registry.filter(function (el) { return el.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      var src = flow.businessObject.sourceRef, tgt = flow.businessObject.targetRef;
      if (!src || !tgt || !step.visits[src.id] || !(step.visits[tgt.id] || step.active.indexOf(tgt.id) >= 0)) { return; }
      if (branches[src.id] && branches[src.id].indexOf(tgt.id) < 0) { return; }
      mark(canvas, registry, flow.id, "audit-done");
    });
    step.active.forEach(function (id) { mark(canvas, registry, id, "audit-active"); });
    step.step.forEach(function (id) { mark(canvas, registry, id, "audit-current"); });
    // The caption is written by the server (French event name, Europe/Paris time), whatever the browser's zone.
    output.textContent = "Événement " + step.seq + " / " + steps[steps.length - 1].seq + " : " + step.caption;
    slider.value = index;
  }

  fetch(box.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      show(steps.length - 1);
      box.dataset.ready = "true";
    })
    .catch(function (err) { box.textContent = "Diagramme indisponible : " + err; });

  slider.addEventListener("input", function () { show(Number(slider.value)); });
  document.getElementById("audit-prev").addEventListener("click", function () { show(Math.max(0, Number(slider.value) - 1)); });
  document.getElementById("audit-next").addEventListener("click", function () { show(Math.min(steps.length - 1, Number(slider.value) + 1)); });
})();
