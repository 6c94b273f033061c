// shopmind console: the few behaviours htmx does not cover. No inline handlers (a strict CSP allows only this file).
(function () {
  "use strict";
  function bindDrop(zone) {
    var input = zone.querySelector("input[type=file]");
    var preview = zone.querySelector(".drop-preview");
    function show(file) {
      if (!preview || !file) return;
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
    }
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        show(input.files[0]);
      }
    });
    zone.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
    input.addEventListener("change", function () { show(input.files[0]); });
  }
  function bindSlider(slider) {
    var box = document.getElementById(slider.dataset.compare);
    function update() { if (box) box.style.setProperty("--pos", slider.value + "%"); }
    slider.addEventListener("input", update);
    update();
  }
  function init(root) {
    root.querySelectorAll("[data-drop]").forEach(function (z) { if (!z.dataset.bound) { z.dataset.bound = "1"; bindDrop(z); } });
    root.querySelectorAll("input[data-compare]").forEach(function (s) { if (!s.dataset.bound) { s.dataset.bound = "1"; bindSlider(s); } });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();
