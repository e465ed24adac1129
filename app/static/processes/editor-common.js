/* What the BPMN modeler (modeler.js) and the decision table editor (decision.js) share: the status line, the
 * XML POST to the server (CSRF header, JSON answer) and the problem list's items. A plain script (no inline
 * code, CSP-safe), loaded before either editor; it defines window.ProcessEditors. */
(function () {
  "use strict";

  // The status line under the toolbar: `say(text, isError)`.
  function statusLine(element) {
    return function say(text, isError) {
      element.textContent = text;
      element.classList.toggle("overdue", !!isError);
    };
  }

  // POST an XML document; resolves to {ok, body} (body {} when the answer is not JSON).
  async function postXml(url, xml, csrf) {
    var response = await fetch(url, {
      method: "POST", credentials: "same-origin", body: xml,
      headers: { "Content-Type": "application/xml", "X-CSRFToken": csrf, "Accept": "application/json" }
    });
    var body = await response.json().catch(function () { return {}; });
    return { ok: response.ok, body: body };
  }

  // Blocking problems (no level, or "error"), as the server counts them.
  function blocking(problems) {
    return (problems || []).filter(function (p) { return !p.level || p.level === "error"; });
  }

  // One <li> of the problem list: the element's name (and id when asked) in bold, then the message.
  function problemItem(p, options) {
    options = options || {};
    var li = document.createElement("li");
    li.className = "proc-problem-" + (p.level || "error");
    var holder = li;
    if (options.link) {
      holder = document.createElement("a");
      holder.href = "#";
      holder.dataset.element = p.element || "";
    }
    if (p.element) {
      var strong = document.createElement("strong");
      strong.textContent = p.label || p.element;
      holder.append(strong);
      if (options.showId) {
        var code = document.createElement("code");
        code.textContent = p.element;
        holder.append(" ", code);
      }
      holder.append(" : ");
    }
    holder.append(p.message);
    if (p.level && p.level !== "error" && options.levelTag) {
      var tag = document.createElement("span");
      tag.className = "proc-level";
      tag.textContent = p.level === "warning" ? "Avertissement" : "Information";
      li.append(tag, " ");
    }
    if (holder !== li) { li.appendChild(holder); }
    return li;
  }

  window.ProcessEditors = { statusLine: statusLine, postXml: postXml, blocking: blocking, problemItem: problemItem };
})();
