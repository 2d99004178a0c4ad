/* A subject page's versions section, rendered from the compact data the builder writes into the page
   (builder/catalog_subjects.py versions_data): the versions table, the diff picker and one section per
   version with its field table, schema, diff, compatibility verdict and references.

   Why in the browser: a subject page holds every version of its schema, and written out as HTML (three
   schema texts, their diffs, field tables, tabs) that was 20 kB a page, two thirds of a 10,000-subject
   catalog. The page carries the newest schema text once, each older one as a line patch against the
   version after it, and the fields as arrays; this script rebuilds the same markup the templates wrote
   before (mkdocs-material's tabs, Pygments' diff classes), while the page is being parsed, so the
   theme's scripts, deep links (#v3, #v3-field-user_id) and catalog.js see it as if it were static.
   It runs where it is included: <script type="application/json" class="lsr-data">…</script> then this
   script, and renders in place of the two. No network, so it works from file:// too. */
(function () {
  "use strict";
  /* Line diff (longest common subsequence; schemas are small): the Diff tabs here, and the diff picker
     (catalog.js, window.lsrDiffLines). null when too large to diff in the browser. */
  function diffLines(a, b) {
    var n = a.length, m = b.length;
    if (n * m > 4e6) return null;
    var lcs = new Array(n + 1);
    for (var i = 0; i <= n; i++) lcs[i] = new Uint16Array(m + 1);
    for (i = n - 1; i >= 0; i--)
      for (var j = m - 1; j >= 0; j--)
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    var out = [];
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) { out.push(["-", a[i]]); i++; }
      else { out.push(["+", b[j]]); j++; }
    }
    while (i < n) out.push(["-", a[i++]]);
    while (j < m) out.push(["+", b[j++]]);
    return out;
  }
  window.lsrDiffLines = diffLines;

  var script = document.currentScript, island = script && script.previousElementSibling;
  if (!island || !island.classList.contains("lsr-data")) return;
  var data = JSON.parse(island.textContent), newestText = island.previousElementSibling;

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  var TYPES = { AVRO: "Avro", JSON: "JSON Schema", PROTOBUF: "Protobuf" };
  var EXT = { AVRO: "avsc", JSON: "json", PROTOBUF: "proto" };
  var LANG = { AVRO: "json", JSON: "json", PROTOBUF: "protobuf" };

  /* ---- the schema texts: the newest in full, each older one patched from the version after it ---- */
  var versions = data.v, texts = {};
  (function () {
    var lines = newestText.textContent.split("\n");
    for (var k = versions.length - 1; k >= 0; k--) {
      var v = versions[k];
      if (k < versions.length - 1) {
        lines = lines.slice();
        (v.patch || []).slice().reverse().forEach(function (op) {   // [start, deleted, [inserted lines]]
          Array.prototype.splice.apply(lines, [op[0], op[1]].concat(op[2]));
        });
      }
      texts[v.n] = lines.join("\n");
    }
  })();

  /* ---- pieces (the markup of site/templates/_macros.md.j2) ---- */
  versions.forEach(function (v) { v.type = v.type || data.type; });   // a version's format, when not the subject's
  function ext(v) { return EXT[v.type] || "txt"; }
  function rawHref(v) { return "../" + data.raw + "v" + v.n + "." + ext(v); }
  function stateBadge(v) {
    var state = v.state.toLowerCase();
    return '<span class="lsr-badge lsr-badge--' + state + '" title="Lifecycle state of version ' + v.n + '">' + state +
      (v.state === "DEPRECATED" && v.sunset ? " · sunset " + esc(v.sunset) : "") + "</span>" +
      (v.deleted ? ' <span class="lsr-badge lsr-badge--deleted">deleted</span>' : "");
  }
  function compatBadge(c) {
    if (c.compatible === false) return '<span class="lsr-badge lsr-badge--error" title="Compatibility verdict at merge">incompatible</span>';
    if (c.checked_versions && c.checked_versions.length) return '<span class="lsr-badge lsr-badge--ok" title="Compatibility verdict at merge">compatible</span>';
    return '<span class="lsr-badge lsr-badge--none" title="Nothing to compare with at merge">not checked</span>';
  }
  function chip(type) { return '<span class="lsr-chip lsr-chip--' + esc(type.toLowerCase()) + '">' + esc(TYPES[type] || type) + "</span>"; }
  function commitLink(commit) {
    if (!commit) return "";
    if (data.commits) return '<a href="' + esc(data.commits + commit) + '" title="' + esc(commit) + '"><code>' + esc(commit.slice(0, 10)) + "</code></a>";
    return '<code title="' + esc(commit) + '">' + esc(commit.slice(0, 10)) + "</code>";
  }
  function subjectLink(r) { return '<a href="' + esc(r.href) + '">' + esc(r.subject) + (r.version ? " v" + r.version : "") + "</a>"; }
  function headerlink(id) { return '<a class="headerlink" href="#' + esc(id) + '" title="Permanent link">¶</a>'; }

  var group = document.querySelectorAll(".tabbed-set").length + 1;
  function tabbed(tabs) {
    var g = group++, html = '<div class="tabbed-set tabbed-alternate" data-tabs="' + g + ":" + tabs.length + '">';
    tabs.forEach(function (t, k) {
      html += "<input" + (k ? "" : ' checked="checked"') + ' id="__tabbed_' + g + "_" + (k + 1) + '" name="__tabbed_' + g + '" type="radio">';
    });
    html += '\n<div class="tabbed-labels">' + tabs.map(function (t, k) {
      return '<label for="__tabbed_' + g + "_" + (k + 1) + '">' + esc(t[0]) + "</label>";
    }).join("") + '</div>\n<div class="tabbed-content">';
    tabs.forEach(function (t) { html += '\n<div class="tabbed-block">\n' + t[1] + "\n</div>"; });
    return html + "\n</div>\n</div>";
  }

  /* ---- the tabs of one version ---- */
  function fieldAnchor(n, path) { return "v" + n + "-field-" + path.replace(/[^A-Za-z0-9._-]/g, "_"); }
  function fieldsTable(v) {
    if (!v.nf) return "<p>This schema has no fields.</p>";
    if (!v.fields) {
      return "<p>" + v.nf + ' fields. The field table with types, defaults and descriptions is shown for the latest version, <a href="#v' +
        data.latest + '">v' + data.latest + "</a>; this version's are in its schema.</p>";
    }
    var rows = v.fields.map(function (f) {     // [path, type, doc, required (1), default as JSON text]
      var path = f[0], anchor = fieldAnchor(v.n, path), name = path.slice(path.lastIndexOf(".") + 1);
      var depth = path.replace(/\[\]/g, "").split(".").length - 1;
      return '\n<tr id="' + esc(anchor) + '" style="--lsr-depth:' + depth + '"><td class="lsr-field"><a class="lsr-anchor" href="#' +
        esc(anchor) + '" title="' + esc(path) + '">' + esc(name) + "</a></td><td><code>" + esc(f[1]).replace(/\./g, ".<wbr>") +
        "</code></td><td>" + (f[3] ? '<span class="lsr-req">required</span>' : "optional") + "</td><td>" +
        (f.length > 4 ? "<code>" + esc(f[4]) + "</code>" : "") + "</td><td>" + esc(f[2]) + "</td></tr>";
    });
    return '<div class="lsr-table lsr-fields">\n<table>\n<thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Default</th>' +
      "<th>Description</th></tr></thead>\n<tbody>" + rows.join("") + "\n</tbody>\n</table>\n</div>";
  }
  function schemaBlock(v) {
    var lang = LANG[v.type] || "text";
    return '<div class="lsr-raw" data-raw-version="' + v.n + '">\n<p class="lsr-raw-links"><a href="' + esc(rawHref(v)) +
      '" download>Download</a> · stable URL <code>' + esc(data.raw + "v" + v.n + "." + ext(v)) + "</code></p>\n" +
      '<div class="language-' + lang + ' highlight lsr-hl"><pre><span></span><code>' + esc(texts[v.n]) + "</code></pre></div>\n</div>";
  }

  /* A unified diff as Python's difflib writes it (3 lines of context), in Pygments' diff classes. */
  function unifiedDiff(prev, v) {
    var a = texts[prev.n].replace(/\n$/, "").split("\n"), b = texts[v.n].replace(/\n$/, "").split("\n");
    var ops = diffLines(a, b);
    if (ops === null) return "<p>Too large to compare here; download the raw files.</p>";
    if (!ops.some(function (op) { return op[0] !== " "; })) return null;
    var changed = [], i, k;
    ops.forEach(function (op, n) { if (op[0] !== " ") changed.push(n); });
    var groups = [], first = changed[0], last = changed[0];       // changes more than 6 equal lines apart: two hunks
    for (k = 1; k < changed.length; k++) {
      if (changed[k] - last - 1 > 6) { groups.push([first, last]); first = changed[k]; }
      last = changed[k];
    }
    groups.push([first, last]);
    groups = groups.map(function (g) { return [Math.max(0, g[0] - 3), Math.min(ops.length, g[1] + 4)]; });
    var posA = [], posB = [], ia = 0, ib = 0;
    ops.forEach(function (op) { posA.push(ia); posB.push(ib); if (op[0] !== "+") ia++; if (op[0] !== "-") ib++; });
    function range(from, count) { return count === 1 ? String(from + 1) : (count ? from + 1 : from) + "," + count; }
    var out = ['<span class="gh">--- v' + prev.n + "." + ext(prev) + "</span>", '<span class="gh">+++ v' + v.n + "." + ext(v) + "</span>"];
    groups.forEach(function (g) {
      var na = 0, nb = 0;
      for (i = g[0]; i < g[1]; i++) { if (ops[i][0] !== "+") na++; if (ops[i][0] !== "-") nb++; }
      out.push('<span class="gu">@@ -' + range(posA[g[0]], na) + " +" + range(posB[g[0]], nb) + " @@</span>");
      for (i = g[0]; i < g[1]; i++) {
        var op = ops[i];
        out.push(op[0] === " " ? " " + esc(op[1]) : '<span class="' + (op[0] === "+" ? "gi" : "gd") + '">' + op[0] + esc(op[1]) + "</span>");
      }
    });
    return '<div class="language-diff highlight"><pre><span></span><code>' + out.join("\n") + "\n</code></pre></div>";
  }
  function diffBlock(prev, v) {
    return unifiedDiff(prev, v) || "<p>The schema text is the same as v" + prev.n + " (rules or metadata changed).</p>";
  }
  function compatBlock(v) {
    var c = v.compat, mode = esc(c.mode || data.mode), html = "";
    if (c.checked_versions && c.checked_versions.length) {
      html += "\n<p>Checked at merge under <code>" + mode + "</code> against " + c.checked_versions.map(function (n) {
        return '<a href="#v' + n + '">v' + n + "</a>";
      }).join(", ") + ": " + compatBadge(c) + "</p>";
    } else {
      html += "\n<p>Nothing to check at merge under <code>" + mode + "</code>: " + ((c.mode || data.mode) === "NONE" ? "the mode checks nothing"
        : "no earlier version counted as a base (first version, or only drafts before it)") + ". " + compatBadge(c) + "</p>";
    }
    if (c.issues && c.issues.length) {
      html += '\n<ul class="lsr-issues">' + c.issues.map(function (i) {
        return "\n<li><code>" + esc(i.kind || "") + "</code> at <code>" + esc(i.location || "/") + "</code>: " + esc(i.message || "") +
          (i.version ? " (against v" + i.version + ", " + esc(i.direction || "") + ")" : "") + "</li>";
      }).join("") + "\n</ul>";
    }
    return html;
  }
  function refsBlock(v) {
    return "<ul>" + (v.refs || []).map(function (r) { return "\n<li>uses <code>" + esc(r.name) + "</code> → " + subjectLink(r) + "</li>"; }).join("") +
      (v.by || []).map(function (r) { return "\n<li>used by " + subjectLink(r) + " (ID " + r.id + ")</li>"; }).join("") + "\n</ul>";
  }
  function versionBlock(v, prev) {
    var meta = "ID <strong>" + v.id + "</strong> · " + stateBadge(v) + " · " + chip(v.type) + (v.merged ? " · merged " + esc(v.merged) : "") +
      (v.commit ? " · commit " + commitLink(v.commit) : "") + ' · <a href="' + esc(rawHref(v)) + '">raw v' + v.n + "." + ext(v) + "</a>" +
      (v.compat ? " · " + compatBadge(v.compat) : "");
    var tabs = [["Fields", fieldsTable(v)], ["Schema", schemaBlock(v)]];
    if (prev) tabs.push(["Diff vs v" + prev.n, diffBlock(prev, v)]);
    if (v.compat) tabs.push(["Compatibility", compatBlock(v)]);
    if ((v.refs && v.refs.length) || (v.by && v.by.length)) tabs.push(["References", refsBlock(v)]);
    return '<h3 id="v' + v.n + '">Version ' + v.n + headerlink("v" + v.n) + '</h3>\n<section class="lsr-version">\n' +
      '<p class="lsr-version-meta">' + meta + "</p>\n" + tabbed(tabs) + "\n</section>";
  }

  /* ---- the section: table of versions (newest first), the diff picker, one block per version ---- */
  var newest = versions.slice().reverse(), html = '<div class="lsr-table lsr-versions">\n<table>\n<thead><tr><th>Version</th><th>ID</th>' +
    "<th>State</th><th>Merged</th><th>Commit</th><th>Raw</th></tr></thead>\n<tbody>";
  newest.forEach(function (v) {
    html += '\n<tr><td><a href="#v' + v.n + '">v' + v.n + "</a></td><td>" + v.id + "</td><td>" + stateBadge(v) + "</td><td>" +
      esc(v.merged || "—") + "</td><td>" + (commitLink(v.commit) || "—") + '</td><td><a href="' + esc(rawHref(v)) + '">v' + v.n + "." + ext(v) + "</a></td></tr>";
  });
  html += "\n</tbody>\n</table>\n</div>\n";
  if (versions.length > 1) {
    var options = function (selected) {
      return versions.map(function (v) { return '<option value="' + v.n + '"' + (v.n === selected ? " selected" : "") + ">v" + v.n + "</option>"; }).join("");
    };
    html += '\n<section class="lsr-diff-picker">\n<label>Compare <select class="lsr-diff-from">' + options(versions[versions.length - 2].n) +
      '</select></label>\n<label>with <select class="lsr-diff-to">' + options(versions[versions.length - 1].n) + "</select></label>\n" +
      '<button class="md-button lsr-diff-run" type="button">Show diff</button>\n<div class="lsr-diff-out" hidden></div>\n</section>\n';
  }
  newest.forEach(function (v) {
    var k = versions.indexOf(v);
    html += "\n" + versionBlock(v, k ? versions[k - 1] : null) + "\n";
  });
  /* The latest version's field paths under the subject's facts (the search box finds the page by them). */
  var names = document.querySelector(".lsr-field-names"), latest = versions.filter(function (v) { return v.n === data.latest; })[0];
  if (names && latest && latest.fields) {
    names.innerHTML = '<span class="lsr-label">Fields</span> ' + latest.fields.map(function (f) { return "<code>" + esc(f[0]) + "</code>"; }).join(" ");
  }
  /* Permalinks of the page's own headings, as the toc extension writes them (5 of them were 4% of a page). */
  script.parentNode.querySelectorAll("h1[id], h2[id]").forEach(function (h) {
    if (!h.querySelector(".headerlink")) h.insertAdjacentHTML("beforeend", headerlink(h.id));
  });
  newestText.remove();
  island.remove();
  script.insertAdjacentHTML("beforebegin", html);
})();
