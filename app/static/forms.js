// Conditional fields (BPMN constraint required_if="field=v1,v2"): shown and required only when the other
// field has one of the values; the server applies the same rule (app/forms/fields.py). No inline script (CSP).
(function () {
  "use strict";
  function valueOf(form, name) {
    var inputs = form.querySelectorAll("[name='" + name + "']");
    var value = "";
    inputs.forEach(function (input) {
      var holder = input.closest("[data-required-if]");
      if (holder && holder.hidden) { return; }  // a hidden field counts as empty
      if (input.type === "radio") { if (input.checked) { value = input.value; } }
      else if (input.type === "checkbox") { value = input.checked ? "true" : "false"; }
      else { value = input.value; }
    });
    return String(value).trim().toLowerCase();
  }
  function refresh(form) {
    // twice: a field may depend on a field that is itself conditional
    for (var pass = 0; pass < 2; pass++) {
      form.querySelectorAll("[data-required-if]").forEach(function (holder) {
        if (holder.tagName === "INPUT" || holder.tagName === "TEXTAREA" || holder.tagName === "SELECT") { return; }
        var rule = holder.getAttribute("data-required-if").split("=");
        var wanted = (rule[1] || "").split(",");
        var on = wanted.indexOf(valueOf(form, rule[0])) !== -1;
        holder.hidden = !on;
        holder.querySelectorAll("input, textarea, select").forEach(function (input) {
          input.required = on && input.type !== "checkbox";
          if (on) { input.setAttribute("aria-required", "true"); } else { input.removeAttribute("aria-required"); }
        });
        holder.querySelectorAll(".req-if").forEach(function (star) { star.hidden = !on; });
      });
    }
  }
  // Consequences (BPMN properties consequence_<option>): the chosen option's sentence appears beside its radios
  // (a polite live region), the area of « Terminer l'étape » lists what will happen and asks for the tick box
  // « Je confirme ». The server still refuses an unconfirmed consequence (it asks on a second page).
  function chosenEffects(form) {
    var chosen = [];
    form.querySelectorAll("[data-consequence-for]").forEach(function (live) {
      var text = "";
      form.querySelectorAll("[name='" + live.getAttribute("data-consequence-for") + "'][data-consequence]")
        .forEach(function (input) {
          var holder = input.closest("[data-required-if]");
          if (input.checked && !(holder && holder.hidden)) {
            text = input.getAttribute("data-consequence");
            chosen.push([input.getAttribute("data-consequence-key"), text]);
          }
        });
      if (live.textContent !== text) { live.textContent = text; }
    });
    return chosen;
  }
  function showEffects(form) {
    var chosen = chosenEffects(form);
    var summary = form.querySelector("#consequence-summary");
    var button = form.querySelector("#complete-step");
    if (!summary) { return; }
    var box = summary.querySelector("#confirm-consequences");
    var list = summary.querySelector("#consequence-summary-list");
    var keys = chosen.map(function (c) { return c[0]; }).join(";");
    if (box.value !== keys) { box.checked = false; }  // a confirmation holds for these consequences only
    box.value = keys;
    box.disabled = chosen.length === 0;
    summary.hidden = chosen.length === 0;
    var texts = chosen.map(function (c) { return c[1]; }).join("\n");
    if (list.getAttribute("data-shown") !== texts) {
      list.textContent = "";
      chosen.forEach(function (c) {
        var item = document.createElement("li");
        item.textContent = c[1];
        list.appendChild(item);
      });
      list.setAttribute("data-shown", texts);
    }
    if (button) {
      button.textContent = button.getAttribute(chosen.length ? "data-label-consequence" : "data-label");
      if (chosen.length) { button.setAttribute("aria-describedby", "consequence-summary-list"); }
      else { button.removeAttribute("aria-describedby"); }
    }
    if (box.checked || !chosen.length) { hideError(summary, box); }
  }
  function hideError(summary, box) {
    summary.querySelector("#confirm-consequences-error").hidden = true;
    box.removeAttribute("aria-invalid");
  }
  function checkConfirmed(form, event) {
    var summary = form.querySelector("#consequence-summary");
    var submitter = event.submitter;
    if (!summary || summary.hidden || (submitter && submitter.value !== "complete")) { return; }
    var box = summary.querySelector("#confirm-consequences");
    if (box.checked) { return; }
    event.preventDefault();  // nothing happens by accident: the tick box first
    summary.querySelector("#confirm-consequences-error").hidden = false;
    box.setAttribute("aria-invalid", "true");
    box.focus();
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-required-if], [data-consequence]")) { return; }
    if (form.querySelector("[data-consequence]")) { form.classList.add("consequences-inline"); }
    form.addEventListener("change", function () { refresh(form); showEffects(form); });
    form.addEventListener("submit", function (event) { checkConfirmed(form, event); });
    refresh(form);
    showEffects(form);
  });
  // After a failed submit, the error summary takes the focus (keyboard and screen-reader users hear it first).
  var summary = document.querySelector(".error-summary, [data-focus-on-load]");
  if (summary) { summary.focus(); }
})();
