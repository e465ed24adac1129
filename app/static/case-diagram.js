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
      // A case stuck in incident: the element where it stopped, with the error (French) beside it.
      if (info.incident && info.incident.element && registry.get(info.incident.element)) {
        canvas.addMarker(info.incident.element, 'hl-incident');
        const note = document.createElement('div');
        note.className = 'diagram-incident';
        note.setAttribute('role', 'note');
        note.textContent = 'Arrêté ici : ' + info.incident.error;
        viewer.get('overlays').add(info.incident.element, 'incident', { position: { bottom: -8, left: 0 }, html: note });
        box.dataset.incident = info.incident.element;
      }
      canvas.zoom('fit-viewport');
      box.dataset.loaded = 'true';
    })
    .catch(() => { box.textContent = 'Le diagramme n’a pas pu être affiché.'; });
})();
