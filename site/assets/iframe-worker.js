/* A Web Worker stand-in for pages opened from file://, where browsers refuse `new Worker(fileUrl)`.
   mkdocs-material's offline plugin needs such a shim for its search worker and would load one from a
   CDN; an air-gapped catalog cannot, so this one ships with the site. The worker script runs in a
   hidden same-origin iframe: messages to the worker are dispatched as `message` events on the iframe's
   window, and the worker's `postMessage` is routed back to this object. Both directions are
   asynchronous, as with a real worker. Loaded as a theme polyfill, before the theme's bundle. */
(function () {
  "use strict";
  if (location.protocol !== "file:" || typeof window.EventTarget !== "function") return;

  function later(fn) { setTimeout(fn, 0); }

  function loadScript(doc, src) {
    return new Promise(function (resolve, reject) {
      var script = doc.createElement("script");
      script.src = src;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("cannot load " + src)); };
      (doc.head || doc.documentElement).appendChild(script);
    });
  }

  function FileWorker(url) {
    var target = new EventTarget(), self = this;
    var iframe = document.createElement("iframe");
    iframe.hidden = true;
    iframe.setAttribute("aria-hidden", "true");
    iframe.setAttribute("tabindex", "-1");
    (document.body || document.documentElement).appendChild(iframe);
    var scope = iframe.contentWindow, queue = [], ready = false;
    this.onmessage = null;
    this.onerror = null;

    function emit(type, init) {
      var event = type === "error" ? new ErrorEvent("error", init) : new MessageEvent("message", init);
      target.dispatchEvent(event);
      var handler = type === "error" ? self.onerror : self.onmessage;
      if (typeof handler === "function") handler.call(self, event);
    }

    scope.postMessage = function (data) { later(function () { emit("message", { data: data }); }); };
    scope.importScripts = function () {
      var urls = Array.prototype.slice.call(arguments), chain = Promise.resolve();
      urls.forEach(function (src) {
        chain = chain.then(function () { return loadScript(scope.document, new URL(src, absolute).href); });
      });
      return chain;
    };
    scope.close = function () { self.terminate(); };

    var absolute = new URL(url, location.href).href;
    loadScript(scope.document, absolute).then(function () {
      ready = true;
      queue.splice(0).forEach(function (data) { self.postMessage(data); });
    }, function (error) { emit("error", { message: error.message }); });

    this.postMessage = function (data) {
      if (!ready) { queue.push(data); return; }
      later(function () { scope.dispatchEvent(new scope.MessageEvent("message", { data: data })); });
    };
    this.terminate = function () { iframe.remove(); };
    this.addEventListener = target.addEventListener.bind(target);
    this.removeEventListener = target.removeEventListener.bind(target);
    this.dispatchEvent = target.dispatchEvent.bind(target);
  }

  window.Worker = FileWorker;
})();
