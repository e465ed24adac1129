// Case page: show the pinned process version with the path taken and the current step(s) highlighted.
(function () {
  const box = document.getElementById('diagram');
  if (!box || typeof BpmnJS === 'undefined') return;
  fetch(box.dataset.url, { credentials: 'same-origin' })
    .then((r) => r.json())
    .then(async (info) => {
      const viewer = new BpmnJS({ container: box });
      await viewer.importXML(info.xml);
      const canvas = viewer.get('canvas');
      const registry = viewer.get('elementRegistry');
      const done = new Set(info.completed);
      const current = new Set(info.current);
      registry.forEach((el) => {
        if (current.has(el.id)) canvas.addMarker(el.id, 'hl-current');
        else if (done.has(el.id)) canvas.addMarker(el.id, 'hl-done');
        // A flow was taken when both its ends were passed (or it leads to the current step).
        const bo = el.businessObject;
        if (bo && bo.$type === 'bpmn:SequenceFlow' && bo.sourceRef && bo.targetRef
            && done.has(bo.sourceRef.id) && (done.has(bo.targetRef.id) || current.has(bo.targetRef.id))) {
          canvas.addMarker(el.id, 'hl-flow');
        }
      });
      canvas.zoom('fit-viewport');
    })
    .catch(() => { box.textContent = 'Le diagramme n’a pas pu être affiché.'; });
})();
