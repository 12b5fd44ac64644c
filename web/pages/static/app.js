// biomarker-kb pages: small enhancements only; every page works without this script.
(function () {
  "use strict";

  // Typeahead: refill the marker datalist with the fuzzy matches of /v1/markers?search= as the user types.
  function suggest(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var status = document.getElementById("marker-status");
    var timer = null, last = "";
    input.addEventListener("input", function () {
      var text = input.value.trim();
      clearTimeout(timer);
      if (text.length < 2 || text === last) { return; }
      timer = setTimeout(function () {
        last = text;
        fetch(input.dataset.suggest + encodeURIComponent(text), {headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data || !Array.isArray(data.markers) || input.value.trim() !== text) { return; }
            list.replaceChildren.apply(list, data.markers.slice(0, 12).map(function (m) {
              var option = document.createElement("option");
              option.value = m.name;
              option.textContent = m.full_name || m.name;
              return option;
            }));
            if (status) { status.textContent = data.markers.length + " matching marker" + (data.markers.length === 1 ? "" : "s"); }
          })
          .catch(function () { /* suggestions are optional: the form still submits */ });
      }, 150);
    });
  }

  // Copy buttons: <button data-copy="ID"> copies the text of element ID.
  function copier(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      if (!source || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      }, function () { button.textContent = "Copy failed: select the text"; });
    });
  }

  // A span split around a crossing span: highlight all its pieces when the URL names it.
  function markTarget() {
    document.querySelectorAll("mark.target").forEach(function (m) { m.classList.remove("target"); });
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) { return; }
    document.querySelectorAll('[data-part-of="' + CSS.escape(id) + '"]').forEach(function (m) { m.classList.add("target"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest]").forEach(suggest);
    document.querySelectorAll("button[data-copy]").forEach(copier);
    markTarget();
    window.addEventListener("hashchange", markTarget);
  });
})();
