// TokenTrail catalog: search and filters on the rules index. The rules' search data is in the
// page (a JSON script element), as pages read from file:// cannot fetch files. Query-string
// parameters (q, format, logtype, severity, tactic) set the fields, so a search can be linked.
(function () {
  "use strict";
  var data = document.getElementById("rules-data");
  if (!data) { return; }
  var records = JSON.parse(data.textContent);
  var rows = document.querySelectorAll("#rules tbody tr");
  var fields = {q: "q", format: "format", logtype: "logtype", severity: "severity", tactic: "tactic"};
  var inputs = {};
  var params = new URLSearchParams(window.location.search);
  Object.keys(fields).forEach(function (name) {
    var el = document.getElementById(fields[name]);
    inputs[name] = el;
    if (params.has(name)) { el.value = params.get(name); }
  });
  var shown = document.getElementById("shown");

  function apply() {
    var words = inputs.q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var format = inputs.format.value, logtype = inputs.logtype.value;
    var severity = inputs.severity.value, tactic = inputs.tactic.value;
    var count = 0;
    records.forEach(function (r, i) {
      var ok = words.every(function (w) { return r.s.indexOf(w) >= 0; }) &&
        (!format || r.f === format) && (!logtype || r.l.indexOf(logtype) >= 0) &&
        (!severity || r.v === severity) && (!tactic || r.t.indexOf(tactic) >= 0);
      rows[i].hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + records.length + " rules";
    var query = new URLSearchParams();
    Object.keys(inputs).forEach(function (name) { if (inputs[name].value) { query.set(name, inputs[name].value); } });
    try { window.history.replaceState(null, "", query.toString() ? "?" + query.toString() : window.location.pathname); }
    catch (e) { /* some browsers refuse history changes on file:// pages; the search still works */ }
  }

  Object.keys(inputs).forEach(function (name) {
    inputs[name].addEventListener("input", apply);
    inputs[name].addEventListener("change", apply);
  });
  apply();
  document.body.setAttribute("data-search", "ready");
})();
