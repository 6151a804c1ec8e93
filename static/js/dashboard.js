/* Repro Dashboard: upload with a size check and progress, and live job progress. No build step. */
(function () {
  "use strict";
  var POLL_MS = 1500;

  function formatSize(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? bytes + " " + units[0] : value.toFixed(1).replace(/\.0$/, "") + " " + units[unit];
  }

  function setErrors(box, messages) {
    box.replaceChildren.apply(box, messages.map(function (text) {
      var p = document.createElement("p");
      p.textContent = text;
      return p;
    }));
  }

  function initUpload(form) {
    var input = form.querySelector("input[type=file]");
    var errors = form.querySelector(".form-errors");
    var progressBox = form.querySelector(".upload-progress");
    var bar = progressBox.querySelector("progress");
    var status = progressBox.querySelector(".upload-status");
    var button = form.querySelector("button[type=submit]");
    var validateOnly = form.querySelector("input[name=validate_only]");
    var maxBytes = parseInt(form.dataset.maxBytes, 10);

    // Refused here, before a byte is sent; the server refuses it again in any case.
    function fileAcceptable() {
      var file = input.files[0];
      if (file && file.size > maxBytes) {
        setErrors(errors, [form.dataset.tooLarge.replace("{size}", formatSize(file.size))]);
        return false;
      }
      setErrors(errors, []);
      return true;
    }

    function uploading(percent) {
      bar.value = percent;
      status.textContent = form.dataset.uploading.replace("{percent}", percent + "%");
    }

    function finished(messages) {
      button.disabled = false;
      progressBox.hidden = true;
      setErrors(errors, messages);
      input.focus();
    }

    input.addEventListener("change", fileAcceptable);
    validateOnly.addEventListener("change", function () {
      button.textContent = validateOnly.checked ? button.dataset.labelValidate : button.dataset.labelImport;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!input.files.length) { finished([form.dataset.choose]); return; }
      if (!fileAcceptable()) { input.focus(); return; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action") || window.location.pathname);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { uploading(Math.floor((e.loaded * 100) / e.total)); }
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        status.textContent = form.dataset.uploaded;
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = null; }
        if (answer && answer.redirect) { window.location.assign(answer.redirect); return; }
        finished(answer && answer.errors ? answer.errors : [form.dataset.failed]);
      });
      xhr.addEventListener("error", function () { finished([form.dataset.failed]); });
      xhr.addEventListener("abort", function () { finished([form.dataset.failed]); });
      button.disabled = true;
      progressBox.hidden = false;
      setErrors(errors, []);
      uploading(0);
      xhr.send(new FormData(form));
    });
  }

  // Elements marked data-live-job are re-rendered from the server until their job is final.
  function refresh(url, nodes) {
    var ids = nodes.map(function (node) { return node.dataset.liveJob; }).join(",");
    return fetch(url + "&ids=" + ids, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { jobs: [] }; })
      .then(function (answer) {
        answer.jobs.forEach(function (job) {
          var node = nodes.find(function (n) { return n.dataset.liveJob === String(job.id); });
          if (!node) { return; }
          if (job.final && node.hasAttribute("data-reload-when-final")) { window.location.reload(); return; }
          var template = document.createElement("template");
          template.innerHTML = job.html.trim();
          node.replaceWith(template.content);
        });
      });
  }

  function poll() {
    var nodes = Array.prototype.slice.call(document.querySelectorAll("[data-live-job]"));
    if (!nodes.length) { return; }
    if (document.hidden) { window.setTimeout(poll, POLL_MS); return; }
    var byUrl = {};
    nodes.forEach(function (node) { (byUrl[node.dataset.liveUrl] = byUrl[node.dataset.liveUrl] || []).push(node); });
    Promise.all(Object.keys(byUrl).map(function (url) { return refresh(url, byUrl[url]); }))
      .catch(function () { /* a missed poll is retried on the next one */ })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  // A copy button puts the text of the element it names (data-copy) on the clipboard. Outside a
  // secure context (plain http on another host) the clipboard API is missing: the text is selected
  // and copied the old way.
  function initCopy(button) {
    var label = button.textContent;
    function copied() {
      button.textContent = button.dataset.copied;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    button.addEventListener("click", function () {
      var target = document.querySelector(button.dataset.copy);
      var text = target.textContent.trim();
      function selectAndCopy() {
        var range = document.createRange();
        range.selectNodeContents(target);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        if (document.execCommand("copy")) { copied(); }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(copied, selectAndCopy);
      } else {
        selectAndCopy();
      }
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(initUpload);
  document.querySelectorAll("button[data-copy]").forEach(initCopy);
  window.setTimeout(poll, POLL_MS);
})();

/* A page part marked data-reload-after (an undo in progress) reloads the page after that many ms. */
(function () {
  "use strict";
  var part = document.querySelector("[data-reload-after]");
  if (part) { setTimeout(function () { window.location.reload(); }, parseInt(part.dataset.reloadAfter, 10)); }
})();
