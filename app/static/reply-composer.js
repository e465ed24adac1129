// The reply composer: "Insérer" puts a case value at the cursor of the reply text (no script needed to send).
(function () {
  var body = document.getElementById("reply-body");
  if (!body) return;
  document.querySelectorAll(".insert-field").forEach(function (button) {
    button.addEventListener("click", function () {
      var value = button.getAttribute("data-value") || "";
      var start = body.selectionStart || 0, end = body.selectionEnd || 0;
      body.value = body.value.slice(0, start) + value + body.value.slice(end);
      body.focus();
      body.selectionStart = body.selectionEnd = start + value.length;
    });
  });
})();
