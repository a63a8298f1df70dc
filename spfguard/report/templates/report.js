(function () {
  "use strict";
  function all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function setOpen(open) { all("details").forEach(function (d) { d.open = open; }); }
  all("[data-expand]").forEach(function (b) { b.addEventListener("click", function () { setOpen(true); }); });
  all("[data-collapse]").forEach(function (b) { b.addEventListener("click", function () { setOpen(false); }); });
  window.addEventListener("beforeprint", function () { setOpen(true); });  /* a printed report shows the whole tree */

  var table = document.getElementById("fleet");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var counter = document.getElementById("shown");
  function filter() {
    var tenant = document.getElementById("f-tenant").value;
    var verdict = document.getElementById("f-verdict").value;
    var severity = document.getElementById("f-severity").value;
    var minimum = parseInt(document.getElementById("f-lookups").value || "0", 10);
    var text = document.getElementById("f-text").value.toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var ok = (!tenant || d.tenant === tenant) && (!verdict || d.verdict === verdict) &&
               (!severity || d.severity === severity) && parseInt(d.lookups, 10) >= minimum &&
               (!text || d.domain.indexOf(text) >= 0 || d.codes.indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    counter.textContent = String(shown);
  }
  all(".controls select, .controls input").forEach(function (el) { el.addEventListener("input", filter); });
  all("th.sortable", table).forEach(function (th, index) {
    var ascending = true;
    th.addEventListener("click", function () {
      var key = th.dataset.key, numeric = th.dataset.type === "num";
      rows.sort(function (a, b) {
        var x = a.dataset[key], y = b.dataset[key];
        var r = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return ascending ? r : -r;
      });
      ascending = !ascending;
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
}());
