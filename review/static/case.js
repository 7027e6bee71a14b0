// omnitriage case page: a approve, m modify, r reject arm a form (Enter
// confirms, Esc cancels), and the claim is renewed while the page is open.
// Without this script every form works as it is.
(function () {
  "use strict";
  var armed = null;
  function arm(button, panel) {
    if (panel) panel.open = true;
    armed = button;
    button.classList.add("armed");
    button.focus();
  }
  function cancel() {
    if (armed) armed.classList.remove("armed");
    armed = null;
    ["modify-panel", "reject-panel"].forEach(function (id) { var p = document.getElementById(id); if (p) p.open = false; });
    if (document.activeElement) document.activeElement.blur();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var o = window.omnitriage;
    if (!o) return;
    var approve = document.getElementById("approve");
    if (approve) {
      o.shortcut("a", "Approve (then Enter to confirm)", function (e) { e.preventDefault(); arm(approve); });
      o.shortcut("m", "Modify (then Enter to confirm)", function (e) {
        e.preventDefault();
        var p = document.getElementById("modify-panel");
        p.open = true;
        document.getElementById("modify-action").focus();
      });
      o.shortcut("r", "Reject (then Enter to confirm)", function (e) {
        e.preventDefault();
        var p = document.getElementById("reject-panel");
        p.open = true;
        document.getElementById("reject-reason").focus();
      });
      o.shortcut("Escape", "Cancel", function () { cancel(); });
      o.shortcut("Enter", "Confirm", function (e) { if (armed) { e.preventDefault(); armed.click(); } });
    }
    // Keep the claim while the page is open.
    if (document.querySelector("[data-claim-mine]")) {
      var path = location.pathname.replace(/\/$/, "") + "/claim";
      setInterval(function () {
        fetch(path, { method: "POST", headers: { "X-Renew": "1" }, credentials: "same-origin" });
      }, 120000);
    }
  });
})();
