/* The decision table editor: dmn-js opened on the table, saved into the process draft. */
(function () {
  "use strict";
  var canvas = document.getElementById("decision-canvas");
  var status = document.getElementById("decision-status");
  var saveUrl = canvas.dataset.saveUrl;
  var editor = new window.DmnJS({ container: canvas });
  window.decisionEditor = editor;  // for browser tests

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("overdue", !!isError);
  }

  function showProblems(problems) {
    var list = document.getElementById("problem-list");
    list.textContent = "";
    problems.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "proc-problem-" + (p.level || "error");
      if (p.element) {
        var strong = document.createElement("strong");
        strong.textContent = p.label || p.element;
        li.append(strong, " : ");
      }
      li.append(p.message);
      list.appendChild(li);
    });
    document.getElementById("problems").hidden = problems.length === 0;
  }

  function openTable() {
    var table = editor.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
    if (table) { return editor.open(table); }
    return Promise.resolve();
  }

  async function load() {
    var response = await fetch(canvas.dataset.xmlUrl, { credentials: "same-origin" });
    await editor.importXML(await response.text());
    await openTable();
    canvas.dataset.loaded = "true";
    say("Table ouverte.");
  }

  async function save() {
    say("Enregistrement…");
    var xml = (await editor.saveXML({ format: true })).xml;
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
    history.replaceState(null, "", body.editor_url);
    saveUrl = body.editor_url.replace(/\/decisions\/([^/]+)\/editeur$/, "/decisions?filename=$1");
    document.getElementById("decision-version").textContent = "brouillon n° " + body.id;
    showProblems(body.problems);
    var blocking = body.problems.filter(function (p) { return !p.level || p.level === "error"; });
    say(blocking.length ? "Table enregistrée : " + blocking.length + " problème(s) à corriger avant déploiement."
                        : "Table enregistrée dans le brouillon.");
    canvas.dataset.saved = String(body.id);
  }

  document.getElementById("save-decision").addEventListener("click", function () {
    save().catch(function (err) { say("Enregistrement impossible : " + err.message, true); });
  });
  load().catch(function (err) { say("Impossible d'ouvrir la table : " + err.message, true); canvas.dataset.loaded = "error"; });
})();
