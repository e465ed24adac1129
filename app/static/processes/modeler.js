/* The process modeler: bpmn-js with the properties panel and the Camunda 7 extension; saves drafts. */
(function () {
  "use strict";
  var canvas = document.getElementById("canvas");
  var status = document.getElementById("modeler-status");
  var saveUrl = canvas.dataset.saveUrl;
  var modeler;
  var shared = window.ProcessEditors;
  var say = shared.statusLine(status);
  // Deploy is possible when the diagram shown is the saved draft, the server found no blocking problem in it and
  // bpmnlint reports no error (its warnings do not block).
  var state = { saved: true, serverBlocking: 0, lintErrors: 0 };

  function updateDeploy() {
    document.getElementById("deploy").disabled = !state.saved || state.serverBlocking > 0 || state.lintErrors > 0;
  }

  function showProblems(problems) {
    var box = document.getElementById("problems");
    var list = document.getElementById("problem-list");
    list.textContent = "";
    problems.forEach(function (p) {
      list.appendChild(shared.problemItem(p, { link: true, showId: true, levelTag: true }));
    });
    box.hidden = problems.length === 0;
    markDiagram(problems);
  }

  // Problems on the diagram: a marker on each element (red: blocking, amber: warning) and a badge with the
  // count; the badge's title lists the messages. Information notices (a JUEL translation) are not marked.
  var marked = [];
  function markDiagram(problems) {
    if (!modeler) { return; }
    var registry = modeler.get("elementRegistry");
    var diagram = modeler.get("canvas");
    var overlays = modeler.get("overlays");
    marked.forEach(function (id) {
      diagram.removeMarker(id, "proc-lint-error");
      diagram.removeMarker(id, "proc-lint-warning");
    });
    overlays.remove({ type: "proc-lint" });
    marked = [];
    var byElement = {};
    problems.forEach(function (p) {
      if (!p.element || p.level === "info" || !registry.get(p.element)) { return; }
      (byElement[p.element] = byElement[p.element] || []).push(p);
    });
    Object.keys(byElement).forEach(function (id) {
      var list = byElement[id];
      var blocking = list.some(function (p) { return !p.level || p.level === "error"; });
      diagram.addMarker(id, blocking ? "proc-lint-error" : "proc-lint-warning");
      marked.push(id);
      var badge = document.createElement("button");
      badge.type = "button";
      badge.className = "proc-lint-badge " + (blocking ? "proc-lint-badge-error" : "proc-lint-badge-warning");
      badge.textContent = String(list.length);
      badge.title = list.map(function (p) { return p.message; }).join("\n");
      badge.setAttribute("aria-label", (blocking ? "Problème" : "Avertissement") + " : " + badge.title);
      badge.dataset.element = id;
      badge.addEventListener("click", function () { focusElement(id); });
      overlays.add(id, "proc-lint", { position: { top: -12, right: 12 }, html: badge });
    });
    canvas.dataset.markers = String(marked.length);
  }

  async function check() {
    say("Vérification…");
    var xml = (await modeler.saveXML({ format: true })).xml;
    var body = (await shared.postXml(document.getElementById("check").dataset.url, xml, canvas.dataset.csrf)).body;
    showProblems(body.problems || []);
    state.serverBlocking = body.blocking || 0;
    updateDeploy();  // what is deployed is the saved draft: unsaved edits keep Deploy disabled
    say(body.blocking ? body.blocking + " problème(s) à corriger (rien n'est enregistré)."
                      : "Aucun problème bloquant (rien n'est enregistré : enregistrez le brouillon pour déployer).");
    canvas.dataset.checked = String(body.blocking || 0);
  }

  // The server's rules, live: a quiet « Valider » 1.5 s after the last edit (nothing is saved); its problems
  // replace the markers and the list, the status line is left alone.
  var liveTimer = null, liveRuns = 0;
  function scheduleLiveCheck() {
    clearTimeout(liveTimer);
    liveTimer = setTimeout(function () {
      liveCheck().catch(function () { /* the next edit or « Valider » tries again */ });
    }, 1500);
  }

  async function liveCheck() {
    var xml = (await modeler.saveXML({ format: true })).xml;
    var answer = await shared.postXml(document.getElementById("check").dataset.url, xml, canvas.dataset.csrf);
    if (!answer.ok && !answer.body.problems) { return; }
    showProblems(answer.body.problems || []);
    state.serverBlocking = answer.body.blocking || 0;
    updateDeploy();
    liveRuns += 1;
    canvas.dataset.liveChecks = String(liveRuns);
  }

  function focusElement(id) {
    var element = id && modeler.get("elementRegistry").get(id);
    if (!element) { return; }
    modeler.get("selection").select(element);
    modeler.get("canvas").scrollToElement(element);
  }

  ["problem-list", "lint-list"].forEach(function (id) {
    document.getElementById(id).addEventListener("click", function (event) {
      var link = event.target.closest("a[data-element]");
      if (link) { event.preventDefault(); focusElement(link.dataset.element); }
    });
  });

  // Camunda's old namespace (http://activiti.org/bpmn): read as the current one, as the server does on upload,
  // so that its camunda: attributes are known to the panel and saving does not invent an <ns0> prefix.
  var OLD_NAMESPACE = /(xmlns(?::[A-Za-z_][\w.-]*)?\s*=\s*)(["'])http:\/\/activiti\.org\/bpmn\2/g;

  function normaliseNamespace(xml) {
    return xml.replace(OLD_NAMESPACE, "$1$2http://camunda.org/schema/1.0/bpmn$2");
  }

  async function importXml(xml) {
    var renamed = OLD_NAMESPACE.test(xml);
    OLD_NAMESPACE.lastIndex = 0;
    xml = normaliseNamespace(xml);
    try {
      var result = await modeler.importXML(xml);
      modeler.get("canvas").zoom("fit-viewport");
      var warnings = (result && result.warnings) || [];
      say((warnings.length ? "Diagramme ouvert (" + warnings.length + " avertissement(s) d'import)." : "Diagramme ouvert.") +
          (renamed ? " Ancien espace de noms Camunda (activiti.org) converti en camunda.org." : ""));
      canvas.dataset.loaded = "true";
    } catch (err) {
      say("Impossible d'ouvrir ce diagramme : " + err.message, true);
      canvas.dataset.loaded = "error";
    }
  }

  async function save() {
    say("Enregistrement…");
    var xml = (await modeler.saveXML({ format: true })).xml;
    var answer = await shared.postXml(saveUrl, xml, canvas.dataset.csrf);
    var body = answer.body;
    if (!answer.ok) {
      showProblems(body.errors || []);
      say(body.error || "Enregistrement refusé.", true);
      return;
    }
    saveUrl = body.save_url;
    history.replaceState(null, "", body.modeler_url);
    document.getElementById("modeler-version").textContent = "brouillon n° " + body.id;
    var deployForm = document.getElementById("deploy-form");
    deployForm.action = body.deploy_url;
    deployForm.hidden = false;
    var blocking = shared.blocking(body.problems);
    state.saved = true;
    state.serverBlocking = blocking.length;
    updateDeploy();
    var compare = document.getElementById("compare");
    compare.href = body.compare_url;
    compare.hidden = false;
    showProblems(body.problems);
    say(blocking.length ? "Brouillon enregistré : " + blocking.length + " problème(s) à corriger avant déploiement."
                        : "Brouillon enregistré : prêt à être déployé.");
    canvas.dataset.saved = String(body.id);
  }

  async function download() {
    var xml = (await modeler.saveXML({ format: true })).xml;
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = canvas.dataset.filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  // « Ouvrir un fichier » : which process does the file describe? The file's executable processes are listed;
  // one of them may be this draft's process (opened here), another becomes a draft of its own process.
  function askWhichProcess(xml) {
    xml = normaliseNamespace(xml);
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    var processes = Array.prototype.filter.call(doc.getElementsByTagNameNS("*", "process"), function (p) {
      return p.namespaceURI === "http://www.omg.org/spec/BPMN/20100524/MODEL";
    }).map(function (p) { return { id: p.getAttribute("id"), name: p.getAttribute("name") || p.getAttribute("id"),
                                   executable: p.getAttribute("isExecutable") === "true" }; });
    var dialog = document.getElementById("open-dialog");
    var choices = document.getElementById("open-choices");
    choices.querySelectorAll("label").forEach(function (l) { l.remove(); });
    var known = (canvas.dataset.keys || "").split(",");
    var key = canvas.dataset.key;
    document.getElementById("open-dialog-text").textContent = processes.length
      ? "Ce fichier contient " + processes.length + " processus. Ce modeleur édite « " + key + " »."
      : "Ce fichier ne contient aucun processus BPMN.";
    processes.forEach(function (p, index) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio"; input.name = "process"; input.value = p.id;
      input.checked = p.id === key || (index === 0 && !processes.some(function (q) { return q.id === key; }));
      var text = p.id === key ? "ce processus (" + p.name + ") : remplacer le diagramme affiché"
        : (known.indexOf(p.id) >= 0 ? "le processus existant « " + p.id + " » : nouveau brouillon"
                                    : "un nouveau processus « " + p.id + " » (" + p.name + ")");
      if (!p.executable) { text += " — non exécutable, à corriger"; }
      label.append(input, " ", text);
      choices.appendChild(label);
    });
    document.getElementById("open-confirm").disabled = processes.length === 0;
    dialog.onclose = function () {
      if (dialog.returnValue !== "ok") { say("Ouverture annulée."); return; }
      var chosen = choices.querySelector("input:checked");
      if (!chosen) { return; }
      if (chosen.value === key) { importXml(xml); return; }
      saveAs(chosen.value, xml).catch(function (err) { say("Ouverture impossible : " + err.message, true); });
    };
    dialog.showModal();
  }

  async function saveAs(otherKey, xml) {
    var url = canvas.dataset.saveBase.replace("__KEY__", encodeURIComponent(otherKey));
    var answer = await shared.postXml(url, xml, canvas.dataset.csrf);
    var body = answer.body;
    if (!answer.ok) { showProblems(body.errors || []); say(body.error || "Ouverture refusée.", true); return; }
    window.location.assign(body.modeler_url);
  }

  // bpmnlint's findings (live, on every change): markers are bpmn-js-bpmnlint's overlays; the list below the
  // toolbar says the same in French, each item focusing its element.
  function showLint(issues) {
    var translate = modeler.get("translate");
    var registry = modeler.get("elementRegistry");
    var list = document.getElementById("lint-list");
    var counts = { error: 0, warn: 0 };
    list.textContent = "";
    Object.keys(issues).forEach(function (id) {
      issues[id].forEach(function (issue) {
        var level = issue.category === "error" ? "error" : "warning";
        counts[issue.category === "error" ? "error" : "warn"] += 1;
        var element = registry.get(issue.actualElementId || issue.id) || registry.get(id);
        var name = element && element.businessObject && element.businessObject.name;
        list.appendChild(shared.problemItem({ element: issue.actualElementId || issue.id, label: name,
                                              level: level, message: translate(issue.message) },
                                            { link: true, showId: true, levelTag: true }));
      });
    });
    document.getElementById("lint").hidden = list.children.length === 0;
    state.lintErrors = counts.error;
    canvas.dataset.lintErrors = String(counts.error);
    canvas.dataset.lintWarnings = String(counts.warn);
    updateDeploy();
  }

  async function start() {
    var moddle = await (await fetch(canvas.dataset.moddleUrl, { credentials: "same-origin" })).json();
    var panel = window.BpmnJSPropertiesPanel;
    var modules = [panel.BpmnPropertiesPanelModule, panel.BpmnPropertiesProviderModule,
                   panel.CamundaPlatformPropertiesProviderModule, window.FrenchTranslateModule,
                   window.FrenchPanelModule];
    // bpmnlint is built by `make vendor`: a checkout whose vendor folder predates it still edits, unlinted.
    if (window.BpmnLint) { modules.push(window.BpmnLint.module); }
    modeler = new window.BpmnJS({
      container: canvas,
      propertiesPanel: { parent: "#properties" },
      additionalModules: modules,
      linting: window.BpmnLint ? { bpmnlint: window.BpmnLint.config, active: true } : undefined,
      moddleExtensions: { camunda: moddle }
    });
    modeler.on("linting.completed", function (event) { showLint(event.issues); });
    modeler.on("commandStack.changed", function (event) {
      if (event && event.trigger === "clear") { return; }  // an import, not an edit
      state.saved = false;
      updateDeploy();
      scheduleLiveCheck();
    });
    window.processModeler = modeler;  // for browser tests and the curious
    window.frenchTitles(document.getElementById("properties"));
    document.getElementById("save").addEventListener("click", function () {
      save().catch(function (err) { say("Enregistrement impossible : " + err.message, true); });
    });
    document.getElementById("download").addEventListener("click", download);
    document.getElementById("check").addEventListener("click", function () {
      check().catch(function (err) { say("Vérification impossible : " + err.message, true); });
    });
    document.getElementById("open-file").addEventListener("change", function (event) {
      var file = event.target.files[0];
      if (file) { file.text().then(askWhichProcess); }
      event.target.value = "";
    });
    var response = await fetch(canvas.dataset.xmlUrl, { credentials: "same-origin" });
    await importXml(await response.text());
    var initial = [];
    document.querySelectorAll("#problem-list li a[data-element]").forEach(function (a) {
      var li = a.closest("li");
      var level = (li.className.match(/proc-problem-(\w+)/) || [])[1] || "error";
      initial.push({ element: a.dataset.element, level: level, message: a.textContent });
    });
    state.serverBlocking = initial.filter(function (p) { return p.level === "error"; }).length;
    updateDeploy();
    markDiagram(initial);
  }

  start().catch(function (err) { say("Le modeleur n'a pas pu démarrer : " + err.message, true); });
})();
