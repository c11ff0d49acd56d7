// The visitor badge page's print button (no inline handlers: the CSP forbids them).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
});
