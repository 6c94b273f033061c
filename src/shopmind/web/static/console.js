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
  // Streamed writing: POST the form with fetch, show draft tokens as they arrive, then swap in the
  // server-rendered result (escaped on the server). Stop aborts the request.
  function bindStream(form) {
    var out = document.getElementById(form.dataset.stream);
    var stop = form.querySelector("[data-stop]");
    var controller = null;
    if (stop) stop.addEventListener("click", function () { if (controller) controller.abort(); });
    function put(html) { out.innerHTML = html; if (window.htmx) window.htmx.process(out); }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
      controller = new AbortController();
      out.innerHTML = "";
      var note = document.createElement("p");
      note.className = "muted small";
      note.textContent = form.dataset.streaming || "";
      var pre = document.createElement("pre");
      pre.className = "streaming";
      pre.id = "draft";
      out.appendChild(note);
      out.appendChild(pre);
      form.classList.add("htmx-request");
      if (stop) stop.hidden = false;
      fetch(form.action, { method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": token },
                           credentials: "same-origin", signal: controller.signal })
        .then(function (r) {
          var type = r.headers.get("content-type") || "";
          if (!r.ok || type.indexOf("ndjson") < 0) return r.text().then(put);
          var reader = r.body.getReader();
          var decoder = new TextDecoder();
          var buf = "";
          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done) return;
              buf += decoder.decode(chunk.value, { stream: true });
              var i;
              while ((i = buf.indexOf("\n")) >= 0) {
                var line = buf.slice(0, i);
                buf = buf.slice(i + 1);
                if (!line.trim()) continue;
                var ev = JSON.parse(line);
                if (ev.event === "token") pre.textContent += ev.text;
                else if (ev.event === "html") put(ev.html);
              }
              return pump();
            });
          }
          return pump();
        })
        .catch(function (err) {
          if (err && err.name === "AbortError") { note.textContent = form.dataset.stopped || "stopped"; return; }
          note.textContent = String(err);
        })
        .finally(function () { form.classList.remove("htmx-request"); if (stop) stop.hidden = true; controller = null; });
    });
  }
  function init(root) {
    root.querySelectorAll("form[data-stream]").forEach(function (f) { if (!f.dataset.bound) { f.dataset.bound = "1"; bindStream(f); } });
    root.querySelectorAll("[data-drop]").forEach(function (z) { if (!z.dataset.bound) { z.dataset.bound = "1"; bindDrop(z); } });
    root.querySelectorAll("input[data-compare]").forEach(function (s) { if (!s.dataset.bound) { s.dataset.bound = "1"; bindSlider(s); } });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();
