/* Schema catalog behaviour: the version diff picker and the field search. No dependencies, no network:
   the diff reads the schemas already on the page (subject.js rebuilds them from the page's data), and the field index is a script file, so both
   work from file:// as well as from a web server. */
(function () {
  "use strict";

  /* Keep 3 lines of context around changes, like `diff -u`. */
  function hunks(ops) {
    var keep = new Array(ops.length).fill(false);
    ops.forEach(function (op, k) {
      if (op[0] !== " ") for (var d = -3; d <= 3; d++) if (k + d >= 0 && k + d < ops.length) keep[k + d] = true;
    });
    var lines = [], gap = false;
    ops.forEach(function (op, k) {
      if (keep[k]) { if (gap) lines.push(["@", "…"]); gap = false; lines.push(op); }
      else gap = lines.length > 0;
    });
    return lines;
  }

  function rawText(root, version) {
    var block = root.querySelector('[data-raw-version="' + version + '"] .highlight code');
    return block ? block.textContent.replace(/\n$/, "") : null;
  }

  function renderDiff(target, from, to, ops) {
    target.textContent = "";
    if (ops === null) { target.textContent = "These versions are too large to compare in the browser; download the raw files."; return; }
    var changed = ops.some(function (op) { return op[0] !== " "; });
    if (!changed) { target.textContent = "v" + from + " and v" + to + " have the same schema text."; return; }
    var pre = document.createElement("pre");
    pre.className = "lsr-diff";
    pre.setAttribute("aria-label", "Diff from v" + from + " to v" + to);
    var head = document.createElement("span");
    head.className = "lsr-hunk";
    head.textContent = "--- v" + from + "\n+++ v" + to;
    pre.appendChild(head);
    hunks(ops).forEach(function (op) {
      var line = document.createElement("span");
      line.className = op[0] === "+" ? "lsr-add" : op[0] === "-" ? "lsr-del" : op[0] === "@" ? "lsr-hunk" : "";
      line.textContent = (op[0] === "@" ? "" : op[0] + " ") + op[1];
      pre.appendChild(line);
    });
    target.appendChild(pre);
  }

  function initDiffPicker(root) {
    root.querySelectorAll(".lsr-diff-picker").forEach(function (picker) {
      if (picker.dataset.ready) return;
      picker.dataset.ready = "1";
      var out = picker.querySelector(".lsr-diff-out");
      var fromSelect = picker.querySelector(".lsr-diff-from"), toSelect = picker.querySelector(".lsr-diff-to");
      function run(share) {
        var from = fromSelect.value, to = toSelect.value;
        var a = rawText(root, from), b = rawText(root, to);
        out.hidden = false;
        if (a === null || b === null) { out.textContent = "Schema text not found on this page."; return; }
        renderDiff(out, from, to, window.lsrDiffLines(a.split("\n"), b.split("\n")));
        if (share && history.replaceState) history.replaceState(null, "", "#diff-v" + from + "-v" + to);
      }
      picker.querySelector(".lsr-diff-run").addEventListener("click", function () { run(true); });
      /* A shared link such as subject.html#diff-v1-v3 opens with that diff shown. */
      var wanted = /^#diff-v(\d+)-v(\d+)$/.exec(location.hash);
      if (wanted && fromSelect.querySelector('option[value="' + wanted[1] + '"]') &&
          toSelect.querySelector('option[value="' + wanted[2] + '"]')) {
        fromSelect.value = wanted[1];
        toSelect.value = wanted[2];
        run(false);
        picker.scrollIntoView();
      }
    });
  }

  /* ---- field search over the compact index (see builder/catalog.py field_index) ---- */
  function subjectHref(index, no, version) {
    var name = index.strings[index.subjects[no]];
    var dir = index.dirs[no] || name;
    return "subjects/" + encodeURIComponent(dir) + ".html#v" + version;  // "%" in a dir name becomes "%25"
  }

  function searchFields(index, query, latestOnly) {
    var q = query.trim().toLowerCase();
    if (!q) return [];
    var exact = [], partial = [];
    index.rows.forEach(function (row) {
      var path = index.strings[row[0]], low = path.toLowerCase();
      var leaf = low.slice(low.lastIndexOf(".") + 1).replace(/\[\]$/, "");
      var versions = row[3];
      if (latestOnly) {
        var latest = index.latest[row[2]];
        versions = versions.filter(function (v) { return v === latest; });
        if (!versions.length) return;
      }
      var hit = { path: path, type: index.strings[row[1]], subject: row[2], versions: versions };
      if (leaf === q || low === q) exact.push(hit);
      else if (low.indexOf(q) >= 0) partial.push(hit);
    });
    var byName = function (x, y) {
      var a = index.strings[index.subjects[x.subject]], b = index.strings[index.subjects[y.subject]];
      return a < b ? -1 : a > b ? 1 : x.path < y.path ? -1 : 1;
    };
    return exact.sort(byName).concat(partial.sort(byName));
  }

  function initFieldSearch(root) {
    var box = root.querySelector("#lsr-field-search");
    if (!box || box.dataset.ready) return;
    box.dataset.ready = "1";
    var input = box.querySelector(".lsr-field-q"), latest = box.querySelector(".lsr-field-latest");
    var status = box.querySelector(".lsr-field-status"), table = box.querySelector(".lsr-field-results");
    var body = table.querySelector("tbody");
    var LIMIT = 500;

    function run() {
      var index = window.__lsrFields;
      if (!index) return;
      var hits = searchFields(index, input.value, latest.checked);
      body.textContent = "";
      hits.slice(0, LIMIT).forEach(function (hit) {
        var tr = document.createElement("tr");
        var name = index.strings[index.subjects[hit.subject]];
        var newest = hit.versions[hit.versions.length - 1];
        var cells = [name, hit.path, hit.type, hit.versions.map(function (v) { return "v" + v; }).join(", ")];
        cells.forEach(function (text, k) {
          var td = document.createElement("td");
          if (k === 0 || k === 1) {
            var a = document.createElement("a");
            /* only the latest version (and drafts after it) has a field table with field anchors */
            var fieldAnchor = newest >= index.latest[hit.subject] ? "-field-" + hit.path.replace(/[^A-Za-z0-9._-]/g, "_") : "";
            a.href = subjectHref(index, hit.subject, newest).replace(/#v\d+$/, k === 0 ? "" : "#v" + newest + fieldAnchor);
            a.textContent = text;
            td.appendChild(a);
          } else if (k === 2) {
            var code = document.createElement("code");
            code.textContent = text;
            td.appendChild(code);
          } else td.textContent = text;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      table.hidden = hits.length === 0;
      var subjects = new Set(hits.map(function (h) { return h.subject; })).size;
      status.textContent = !input.value.trim() ? index.rows.length + " fields indexed. Type a field name."
        : hits.length === 0 ? "No field matches “" + input.value.trim() + "”."
        : hits.length + " fields in " + subjects + " subjects" + (hits.length > LIMIT ? " (first " + LIMIT + " shown)" : "") + ".";
    }

    function ready() {
      /* fields.html?field=user_id (the theme's search owns ?q=) */
      var params = new URLSearchParams(location.search || location.hash.replace(/^#/, "?"));
      if (params.get("field") && !input.value) input.value = params.get("field");
      input.addEventListener("input", run);
      latest.addEventListener("change", run);
      run();
    }

    loadFieldIndex(box.dataset.index, ready, function () { status.textContent = "The field index could not be loaded."; });
  }

  /* The field index is a script (window.__lsrFields), so it loads from file:// too; loaded once. */
  var indexWaiters = null;
  function loadFieldIndex(src, done, failed) {
    if (window.__lsrFields) { done(); return; }
    if (indexWaiters) { indexWaiters.push([done, failed]); return; }
    indexWaiters = [[done, failed]];
    var script = document.createElement("script");
    script.src = src;
    script.onload = function () { indexWaiters.forEach(function (w) { w[0](); }); indexWaiters = null; };
    script.onerror = function () { indexWaiters.forEach(function (w) { if (w[1]) w[1](); }); indexWaiters = null; };
    document.body.appendChild(script);
  }

  /* The site root relative to this page, from the theme's own configuration. */
  function siteBase() {
    var config = document.getElementById("__config");
    try { return (config && JSON.parse(config.textContent).base) || "."; } catch (e) { return "."; }
  }

  /* ---- the search box knows fields: a query that names a field leads straight to Field search ---- */
  var FIELD_QUERY = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\[\])?$/;
  function initSearchFields() {
    var input = document.querySelector(".md-search__input");
    var output = document.querySelector(".md-search__output .md-search-result");
    if (!input || !output || input.dataset.lsrFields) return;
    input.dataset.lsrFields = "1";
    var base = siteBase();
    var note = document.createElement("a");
    note.className = "lsr-search-fields";
    note.hidden = true;
    output.insertBefore(note, output.firstChild);
    function update() {
      var q = input.value.trim();
      if (!FIELD_QUERY.test(q)) { note.hidden = true; return; }
      loadFieldIndex(base + "/assets/catalog/fields.js", function () {
        if (input.value.trim() !== q) return;
        var hits = searchFields(window.__lsrFields, q, false).filter(function (h) {
          var low = h.path.toLowerCase(), leaf = low.slice(low.lastIndexOf(".") + 1).replace(/\[\]$/, "");
          return leaf === q.toLowerCase() || low === q.toLowerCase();
        });
        var subjects = new Set(hits.map(function (h) { return h.subject; })).size;
        note.hidden = subjects === 0;
        note.href = base + "/fields.html?field=" + encodeURIComponent(q);
        note.textContent = "Field “" + q + "” is in " + subjects + (subjects === 1 ? " subject" : " subjects") +
          " — show them in Field search →";
      });
    }
    input.addEventListener("input", update);
    input.addEventListener("focus", update);
    /* The theme also fills the box itself (a shared link's ?q=): follow its result count. */
    var meta = output.querySelector(".md-search-result__meta");
    if (meta && window.MutationObserver) new MutationObserver(update).observe(meta, { childList: true, characterData: true, subtree: true });
    update();
  }

  /* ---- a catalog built for a web server, opened from file://: say how to browse it ---- */
  function initFileNotice() {
    if (location.protocol !== "file:" || document.querySelector(".lsr-file-notice")) return;
    /* The offline build (llm-registry build --offline) loads the iframe worker polyfill and works here. */
    if (document.querySelector('script[src*="iframe-worker"]')) return;
    var notice = document.createElement("div");
    notice.className = "admonition warning lsr-file-notice";
    notice.innerHTML = '<p class="admonition-title">Opened from a file</p><p>This catalog was built to be ' +
      "served by a web server: its search cannot start from <code>file://</code>. Serve this folder (for " +
      "example <code>python3 -m http.server</code> in it, then open http://localhost:8000/), or build it with " +
      "<code>llm-registry build --catalog-out DIR --offline</code> to browse it from files. Field search " +
      "works here.</p>";
    var content = document.querySelector(".md-content__inner") || document.body;
    content.insertBefore(notice, content.firstChild);
    var search = document.querySelector(".md-search__input");
    if (search) search.placeholder = "Search needs a web server";
  }

  /* ---- schemas are written as plain text (builder/catalog.py schema_code) and highlighted here, into
     the token classes Pygments uses, so the theme colours them as it does highlighted code ---- */
  var JSON_TOKEN = /("(?:[^"\\]|\\.)*")(\s*)(:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}\[\],:])/g;
  function highlightJson(code) {
    var text = code.textContent, frag = document.createDocumentFragment(), pos = 0, m;
    function span(cls, t) { var s = document.createElement("span"); s.className = cls; s.textContent = t; frag.appendChild(s); }
    function plain(t) { if (t) frag.appendChild(document.createTextNode(t)); }
    JSON_TOKEN.lastIndex = 0;
    while ((m = JSON_TOKEN.exec(text))) {
      plain(text.slice(pos, m.index));
      if (m[1] !== undefined) { span(m[3] ? "nt" : "s2", m[1]); plain(m[2]); if (m[3]) span("p", ":"); }
      else if (m[4] !== undefined) span("mi", m[4]);
      else if (m[5] !== undefined) span("kc", m[5]);
      else span("p", m[6]);
      pos = JSON_TOKEN.lastIndex;
    }
    plain(text.slice(pos));
    code.textContent = "";
    code.appendChild(frag);
  }

  /* Protobuf, in the classes Pygments' protobuf lexer gives (close enough for colour, not a parser) */
  var PROTO_TOKEN = /(\/\/[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(-?\d+(?:\.\d+)?)|([A-Za-z_][\w.]*)(?=(\s*=)?)|([=])|([{}()\[\];,<>])/g;
  var PROTO_KEYWORDS = /^(syntax|edition|import|option|repeated|optional|required|reserved|returns|rpc|oneof|extend|extensions|to|max|stream|public|weak)$/;
  var PROTO_TYPES = /^(double|float|int32|int64|uint32|uint64|sint32|sint64|fixed32|fixed64|sfixed32|sfixed64|bool|string|bytes)$/;
  function highlightProto(code) {
    var text = code.textContent, frag = document.createDocumentFragment(), pos = 0, m, declaring = false;
    function span(cls, t) { var s = document.createElement("span"); s.className = cls; s.textContent = t; frag.appendChild(s); }
    PROTO_TOKEN.lastIndex = 0;
    while ((m = PROTO_TOKEN.exec(text))) {
      if (m.index > pos) frag.appendChild(document.createTextNode(text.slice(pos, m.index)));
      if (m[1] !== undefined) span(m[1].charAt(1) === "/" ? "c1" : "cm", m[1]);
      else if (m[2] !== undefined) span("s", m[2]);
      else if (m[3] !== undefined) span("mi", m[3]);
      else if (m[4] !== undefined) {
        var word = m[4];
        var cls = declaring ? "nc" : word === "package" ? "kn" : /^(message|enum|service)$/.test(word) ? "kd"
          : PROTO_KEYWORDS.test(word) ? "k" : PROTO_TYPES.test(word) ? "kt" : /^(true|false)$/.test(word) ? "kc"
          : m[5] ? "na" : "n";
        declaring = cls === "kd";
        span(cls, word);
      }
      else if (m[6] !== undefined) span("o", m[6]);
      else span("p", m[7]);
      pos = PROTO_TOKEN.lastIndex;
    }
    if (pos < text.length) frag.appendChild(document.createTextNode(text.slice(pos)));
    code.textContent = "";
    code.appendChild(frag);
  }

  function initHighlight(root) {
    root.querySelectorAll(".lsr-hl code").forEach(function (code) {
      if (code.dataset.ready) return;
      code.dataset.ready = "1";
      if (code.closest(".language-protobuf")) highlightProto(code);
      else highlightJson(code);
    });
  }

  /* ---- nested fields: a row with deeper rows under it gets a toggle that folds them ---- */
  function depthOf(row) {
    return parseInt(row.style.getPropertyValue("--lsr-depth") || "0", 10);
  }

  function initFieldTables(root) {
    root.querySelectorAll(".lsr-fields tbody").forEach(function (body) {
      if (body.dataset.ready) return;
      body.dataset.ready = "1";
      var rows = Array.prototype.slice.call(body.rows);
      rows.forEach(function (row, k) {
        var depth = depthOf(row), next = rows[k + 1];
        if (!next || depthOf(next) <= depth) return;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "lsr-fold";
        button.setAttribute("aria-expanded", "true");
        button.title = "Fold the nested fields";
        button.textContent = "▾";
        button.addEventListener("click", function () {
          var open = button.getAttribute("aria-expanded") !== "true";
          button.setAttribute("aria-expanded", String(open));
          button.textContent = open ? "▾" : "▸";
          for (var j = k + 1; j < rows.length && depthOf(rows[j]) > depth; j++) {
            rows[j].hidden = !open;
            var inner = rows[j].querySelector(".lsr-fold");
            if (inner && open) { inner.setAttribute("aria-expanded", "true"); inner.textContent = "▾"; }
          }
        });
        row.cells[0].insertBefore(button, row.cells[0].firstChild);
      });
    });
  }

  function init() {
    initFileNotice();
    initDiffPicker(document);
    initFieldSearch(document);
    initFieldTables(document);
    initHighlight(document);
    initSearchFields();
  }

  /* mkdocs-material re-renders content on instant navigation and announces it through document$; the
     page is initialised on load as well, since the theme's scripts may not start (file://). Every init
     step is idempotent. */
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
