/* The process modeler: bpmn-js with the properties panel and the Camunda 7 extension; saves drafts. */
(function () {
  "use strict";
  var canvas = document.getElementById("canvas");
  var status = document.getElementById("modeler-status");
  var saveUrl = canvas.dataset.saveUrl;
  var modeler;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("overdue", !!isError);
  }

  function showProblems(problems) {
    var box = document.getElementById("problems");
    var list = document.getElementById("problem-list");
    list.textContent = "";
    problems.forEach(function (p) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "#";
      a.dataset.element = p.element || "";
      if (p.element) {
        var strong = document.createElement("strong");
        strong.textContent = p.label || p.element;
        var code = document.createElement("code");
        code.textContent = p.element;
        a.append(strong, " ", code, " : ");
      }
      a.append(p.message);
      li.className = "proc-problem-" + (p.level || "error");
      if (p.level && p.level !== "error") {
        var tag = document.createElement("span");
        tag.className = "proc-level";
        tag.textContent = p.level === "warning" ? "Avertissement" : "Information";
        li.appendChild(tag);
        li.append(" ");
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    box.hidden = problems.length === 0;
  }

  function focusElement(id) {
    var element = id && modeler.get("elementRegistry").get(id);
    if (!element) { return; }
    modeler.get("selection").select(element);
    modeler.get("canvas").scrollToElement(element);
  }

  document.getElementById("problem-list").addEventListener("click", function (event) {
    var link = event.target.closest("a[data-element]");
    if (link) { event.preventDefault(); focusElement(link.dataset.element); }
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
    var response = await fetch(saveUrl, {
      method: "POST", credentials: "same-origin", body: xml,
      headers: { "Content-Type": "application/xml", "X-CSRFToken": canvas.dataset.csrf, "Accept": "application/json" }
    });
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok) {
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
    var blocking = body.problems.filter(function (p) { return !p.level || p.level === "error"; });
    document.getElementById("deploy").disabled = blocking.length > 0;
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

  async function start() {
    var moddle = await (await fetch(canvas.dataset.moddleUrl, { credentials: "same-origin" })).json();
    var panel = window.BpmnJSPropertiesPanel;
    modeler = new window.BpmnJS({
      container: canvas,
      propertiesPanel: { parent: "#properties" },
      additionalModules: [panel.BpmnPropertiesPanelModule, panel.BpmnPropertiesProviderModule,
                          panel.CamundaPlatformPropertiesProviderModule],
      moddleExtensions: { camunda: moddle }
    });
    window.processModeler = modeler;  // for browser tests and the curious
    document.getElementById("save").addEventListener("click", function () {
      save().catch(function (err) { say("Enregistrement impossible : " + err.message, true); });
    });
    document.getElementById("download").addEventListener("click", download);
    document.getElementById("open-file").addEventListener("change", function (event) {
      var file = event.target.files[0];
      if (file) { file.text().then(importXml); }
    });
    var response = await fetch(canvas.dataset.xmlUrl, { credentials: "same-origin" });
    await importXml(await response.text());
  }

  start().catch(function (err) { say("Le modeleur n'a pas pu démarrer : " + err.message, true); });
})();
