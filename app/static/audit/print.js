// The print page's "Imprimer" button: a listener from a static file, since the CSP forbids inline handlers.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
