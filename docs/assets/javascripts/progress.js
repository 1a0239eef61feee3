/*
 * Progress tracker of the roadmap (docs/plan/progress.md, generated from data/ by hooks/render_data.py).
 *
 * Ticks live in localStorage under the key given by the tracker's data-storage-key, as
 *   {"version": 1, "ticked": ["p01.numpy-basics", "m1.mnist", ...]}
 * The item keys are the same on the Chinese and English pages, so both languages share one record.
 * Keys that the page does not show (an item renamed or removed later) are kept, never dropped.
 * No network, no dependencies: the page works offline.
 */
(function () {
  "use strict";

  var FORMAT_VERSION = 1;

  /** Parse a progress document into an array of keys; throws on anything that is not one. */
  function parseDocument(text) {
    var data = JSON.parse(text);
    var ticked = null;
    if (Array.isArray(data)) {
      ticked = data;
    } else if (data && typeof data === "object" && Array.isArray(data.ticked)) {
      ticked = data.ticked;
    }
    if (!ticked || !ticked.every(function (k) { return typeof k === "string" && k.length > 0; })) {
      throw new Error("not a progress document");
    }
    return ticked;
  }

  function serialize(set) {
    return JSON.stringify({ version: FORMAT_VERSION, ticked: Array.from(set).sort() });
  }

  function Tracker(root) {
    this.root = root;
    this.key = root.getAttribute("data-storage-key");
    this.boxes = Array.prototype.slice.call(root.querySelectorAll("input.dlr-check"));
    this.json = root.querySelector("textarea.dlr-json");
    this.message = root.querySelector(".dlr-message");
    this.ticked = this.load();
  }

  Tracker.prototype.load = function () {
    try {
      var raw = window.localStorage.getItem(this.key);
      return new Set(raw ? parseDocument(raw) : []);
    } catch (err) {
      return new Set();
    }
  };

  Tracker.prototype.save = function () {
    try {
      window.localStorage.setItem(this.key, serialize(this.ticked));
    } catch (err) {
      this.say("");  // storage blocked (private mode, file://): the page still works for this visit
    }
  };

  Tracker.prototype.say = function (text) {
    if (this.message) this.message.textContent = text;
  };

  Tracker.prototype.text = function (name, n) {
    var template = this.root.getAttribute("data-" + name) || "";
    return template.replace("{n}", String(n));
  };

  /** Tick the boxes from the stored set and redraw every progress bar. */
  Tracker.prototype.render = function () {
    var ticked = this.ticked;
    this.boxes.forEach(function (box) {
      box.checked = ticked.has(box.getAttribute("data-key"));
    });
    var groups = this.root.querySelectorAll("[data-group]");
    Array.prototype.forEach.call(groups, function (group) {
      var scope = group.getAttribute("data-group") === "all" ? group.closest(".dlr-tracker") : group;
      var boxes = scope.querySelectorAll("input.dlr-check");
      var done = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      var bar = group.querySelector("progress.dlr-bar");
      var count = group.querySelector(".dlr-count");
      if (bar) {
        bar.max = Math.max(boxes.length, 1);
        bar.value = done;
      }
      if (count) count.textContent = done + " / " + boxes.length;
      group.classList.toggle("dlr-complete", boxes.length > 0 && done === boxes.length);
    });
  };

  Tracker.prototype.exportJson = function () {
    var text = serialize(this.ticked);
    if (this.json) this.json.value = text;
    try {
      var url = URL.createObjectURL(new Blob([text + "\n"], { type: "application/json" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = "dl-roadmap-progress.json";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 0);
    } catch (err) {
      /* the JSON is in the text box either way */
    }
    this.say(this.text("msg-exported", this.ticked.size));
  };

  Tracker.prototype.importJson = function (text) {
    var keys;
    try {
      keys = parseDocument(text);
    } catch (err) {
      this.say(this.text("msg-bad", 0));
      return;
    }
    this.ticked = new Set(keys);
    this.save();
    this.render();
    this.say(this.text("msg-imported", this.ticked.size));
  };

  Tracker.prototype.reset = function () {
    if (!window.confirm(this.text("confirm-reset", 0))) return;
    this.ticked = new Set();
    this.save();
    this.render();
    this.say(this.text("msg-reset", 0));
  };

  Tracker.prototype.bind = function () {
    var self = this;
    this.root.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("input.dlr-check")) {
        var key = target.getAttribute("data-key");
        if (target.checked) self.ticked.add(key); else self.ticked.delete(key);
        self.save();
        self.render();
      } else if (target.matches("input[data-action=file]") && target.files && target.files[0]) {
        target.files[0].text().then(function (text) {
          if (self.json) self.json.value = text;
          self.importJson(text);
          target.value = "";
        });
      }
    });
    this.root.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) return;
      var action = button.getAttribute("data-action");
      if (action === "export") self.exportJson();
      else if (action === "import") self.importJson(self.json ? self.json.value : "");
      else if (action === "reset") self.reset();
    });
    // Another tab (or the other language's page) changed the record: follow it.
    window.addEventListener("storage", function (event) {
      if (event.key === self.key) {
        self.ticked = self.load();
        self.render();
      }
    });
  };

  function init() {
    var root = document.querySelector(".dlr-tracker");
    if (!root || root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var tracker = new Tracker(root);
    tracker.bind();
    tracker.render();
  }

  // Material publishes document$ (fires on every page, also with instant navigation); fall back to DOM events.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(init);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
