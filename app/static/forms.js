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
  function showEffects(form) {
    form.querySelectorAll("[data-consequence]").forEach(function (input) {
      var note = document.getElementById(input.getAttribute("aria-describedby"));
      if (note) { note.classList.toggle("consequence-chosen", input.checked); }
    });
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-required-if], [data-consequence]")) { return; }
    form.addEventListener("change", function () { refresh(form); showEffects(form); });
    refresh(form);
    showEffects(form);
  });
  // After a failed submit, the error summary takes the focus (keyboard and screen-reader users hear it first).
  var summary = document.querySelector(".error-summary, [data-focus-on-load]");
  if (summary) { summary.focus(); }
})();
