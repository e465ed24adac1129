/* The decision table editor: dmn-js opened on the table, saved into the process draft. */
(function () {
  "use strict";
  var canvas = document.getElementById("decision-canvas");
  var status = document.getElementById("decision-status");
  var saveUrl = canvas.dataset.saveUrl;
  var shared = window.ProcessEditors;
  // French in every view (dmn-js takes each view's additionalModules, not the common ones).
  var french = { additionalModules: [window.FrenchTranslateModule] };
  var editor = new window.DmnJS({ container: canvas, drd: french, decisionTable: french, literalExpression: french,
                                  boxedExpression: french });
  window.decisionEditor = editor;  // for browser tests
  var say = shared.statusLine(status);

  function showProblems(problems) {
    var list = document.getElementById("problem-list");
    list.textContent = "";
    problems.forEach(function (p) { list.appendChild(shared.problemItem(p)); });
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
    var answer = await shared.postXml(saveUrl, xml, canvas.dataset.csrf);
    var body = answer.body;
    if (!answer.ok) {
      showProblems(body.errors || []);
      say(body.error || "Enregistrement refusé.", true);
      return;
    }
    history.replaceState(null, "", body.editor_url);
    saveUrl = body.editor_url.replace(/\/decisions\/([^/]+)\/editeur$/, "/decisions?filename=$1");
    document.getElementById("decision-version").textContent = "brouillon n° " + body.id;
    showProblems(body.problems);
    var blocking = shared.blocking(body.problems);
    say(blocking.length ? "Table enregistrée : " + blocking.length + " problème(s) à corriger avant déploiement."
                        : "Table enregistrée dans le brouillon.");
    canvas.dataset.saved = String(body.id);
  }

  document.getElementById("save-decision").addEventListener("click", function () {
    save().catch(function (err) { say("Enregistrement impossible : " + err.message, true); });
  });
  load().catch(function (err) { say("Impossible d'ouvrir la table : " + err.message, true); canvas.dataset.loaded = "error"; });
})();
