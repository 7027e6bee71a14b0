// omnitriage review pages: keyboard shortcuts. Every page works without
// this script; it only adds keys.
//
// A page adds shortcuts in two ways:
//   - markup: an element with data-shortcut="a" (and data-shortcut-label,
//     else its text) is clicked, or focused if it is a field, on that key;
//   - script: omnitriage.shortcut("j", "Next case", function (event) {…}).
// "?" shows every shortcut of the page; Esc closes the list, or leaves a
// text field. Keys are ignored while a text field has focus, and with
// Ctrl, Alt or Meta held, so browser and screen-reader keys still work.
(function () {
  "use strict";

  var registered = [];

  function shortcut(key, label, run) {
    registered.push({ key: key, label: label, run: run });
  }

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return false;
    var type = (el.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].indexOf(type) < 0;
  }

  function marked(key) {
    var all = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (el.getAttribute("data-shortcut") === key && !el.disabled && !el.closest("[hidden]")) return el;
    }
    return null;
  }

  function label(el) {
    return el.getAttribute("data-shortcut-label") || el.getAttribute("aria-label") || el.textContent.trim();
  }

  function overlay() { return document.getElementById("shortcuts"); }

  function fill(dlg) {
    var list = dlg.querySelector("#shortcut-list");
    var old = list.querySelectorAll("[data-page-shortcut]");
    for (var i = 0; i < old.length; i++) old[i].remove();
    var seen = {};
    function add(key, text) {
      if (seen[key]) return;
      seen[key] = true;
      var row = document.createElement("div");
      row.setAttribute("data-page-shortcut", "");
      var dt = document.createElement("dt");
      var kbd = document.createElement("kbd");
      kbd.textContent = key;
      dt.appendChild(kbd);
      var dd = document.createElement("dd");
      dd.textContent = text;
      row.appendChild(dt);
      row.appendChild(dd);
      list.appendChild(row);
    }
    var els = document.querySelectorAll("[data-shortcut]");
    for (var j = 0; j < els.length; j++) {
      if (!els[j].closest("[hidden]")) add(els[j].getAttribute("data-shortcut"), label(els[j]));
    }
    registered.forEach(function (s) { add(s.key, s.label); });
  }

  function toggle() {
    var dlg = overlay();
    if (!dlg || typeof dlg.showModal !== "function") return;
    if (dlg.open) { dlg.close(); return; }
    fill(dlg);
    dlg.showModal();
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    var dlg = overlay();
    if (e.key === "?") { e.preventDefault(); toggle(); return; }
    if (dlg && dlg.open) return; // the dialog handles Esc itself
    var el = marked(e.key);
    if (el) {
      e.preventDefault();
      if (typing(el)) el.focus(); else el.click();
      return;
    }
    for (var i = 0; i < registered.length; i++) {
      if (registered[i].key === e.key) { registered[i].run(e); return; }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var open = document.querySelectorAll("[data-shortcuts-open]");
    for (var i = 0; i < open.length; i++) {
      open[i].hidden = false;
      open[i].addEventListener("click", toggle);
    }
  });

  window.omnitriage = { shortcut: shortcut, toggleShortcuts: toggle };
})();
